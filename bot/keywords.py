"""Messages whose intent is certain without a classifier: command keywords, emoji, keyboard mash."""

from __future__ import annotations

import re

from actions.text import DICTATED

COMMANDS = {
    "help": "get_help", "help me": "get_help", "help pls": "get_help", "help please": "get_help",
    "sos": "get_help",
    "stop": "stop", "stop it": "stop", "stopall": "stop", "unsubscribe": "stop", "stop pls": "stop",
    "delete": "delete_data", "delete it": "delete_data", "delete everything": "delete_data",
    "delete my data": "delete_data",
    "restart": "start_over", "start over": "start_over", "start again": "start_over",
    "privacy": "privacy", "privacy notice": "privacy", "privacy policy": "privacy",
    "privacy pls": "privacy", "privacy please": "privacy",
}  # fmt: skip
EMOJI = {
    "👍": "affirm", "👌": "affirm", "✅": "affirm", "👎": "deny", "❌": "deny",
    "❤": "thanks", "🙏": "thanks", "👋": "greet",
}  # fmt: skip
FILLERS = frozenset(
    [
        "lol",
        "lmao",
        "lmfao",
        "rofl",
        "hmm",
        "hmmm",
        "erm",
        "ermm",
        "umm",
        "um",
        "uh",
        "uhh",
        "blah",
        "haha",
        "hahaha",
        "ahaha",
        "ksks",
    ]
)
KEYBOARD_RUNS = ("qwert", "werty", "asdf", "sdfg", "dfgh", "ghjk", "hjkl", "zxcv", "xcvb", "uiop")
NOT_A_COMMAND = {
    # "i cant stop crying", "i want to stop vaping": about their life, not the messages.
    "stop": re.compile(
        r"\b(?:can'?t|cannot|won'?t|never|to|wanna|trying to)\s+stop\s+(?!texting|text\b|texts\b"
        r"|messag|contact|send|sending|talking to me|replying|it\b|now\b|pls\b|please\b)[a-z]"
        r"|\bstop\s+(?!it\b|now\b|this\b|that\b|pls\b|please\b|all\b|the\b|texting|text\b"
        r"|messag|contact|send|sending|talking to me|replying)[a-z]+ing\b"
        r"|\bstop\s+(?:the|my|these|them|him|her|people|being|feeling)\s+(?!messag|texts?\b|"
        r"chat\b|contact|notification|reminder)[a-z]+"
        # "i want the group chat to stop", "need the bullying to stop": something else stopping.
        r"|\b(?:the|my|his|her|their|our|these|those|that)\s+(?!(?:\w+\s+){0,2}?"
        r"(?:messages?|texts?|texting|notifications?|reminders?|bot|you|u)\b)"
        r"(?:(?!to\b)\w+\s+){0,2}?(?!to\b|(?<!group\s)chat\b|convo\b|conversation\b)\w+\s+"
        r"(?:to\s+)?stop\b"
        # "can i stop if i want": asking whether they may, not asking us to.
        r"|\b(?:can|could|will|do) i (?:be able to )?stop\b"
        r"(?= (?:if|when|whenever|any ?time|at any|later|after|halfway))"
        # "dont message this number, my dad checks it": who reads the phone, an answer about
        # how to reach them, not STOP (that would lose the referral).
        r"|\b(?:mum|mam|mom|dad|parents?|step ?dad|step ?mum|brother|sister|carers?|nan|gran"
        r"|boyfriend|girlfriend|partner|someone)\b(?: \w+){0,2} (?:checks?|checking|reads?|reading"
        r"|looks? (?:at|through)|goes through|go through|sees?)\b"
        # "it stopping", "the bullying stopping": what they want, not a command.
        r"|\b(?:it|them|that|this|everything|people|him|her|they|the \w+)\s+(?:all\s+)?stoppin[g']?"
        r"(?!\w)"
        # "make it stop", "i want it all to stop": what is happening to them, not the messages.
        r"|\b(?:make|makes|making|wish|want|wanna|need|help|get)\s+(?:it|this|them|him|her|"
        r"everything|things|it all|the (?!messages?\b|texts?\b|texting\b|chat\b)\w+)"
        r"\s+(?:all\s+)?(?:to\s+)?stop\b",
        re.IGNORECASE,
    ),
    # "hes at work now so yes till later": until then, not goodbye.
    # "mondays im off", "im off on fridays": a day off, an answer about when to get in touch.
    "goodbye": re.compile(
        r"\b(?:till|til|until|untill|by|from|for) later\b"
        r"|\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekends?|days?|mornings?"
        r"|afternoons?|evenings?|nights?|when|usually|normally)\s+(?:im|i'?m|i am)\s+off\b"
        r"|\b(?:im|i'?m|i am)\s+off\s+(?:on|work|from|til|till|until|at|every|most|all|after"
        r"|before|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekends?)\b",
        re.IGNORECASE,
    ),
    # "umm ok", "hmm yeah": a hesitant answer, not keyboard mash.
    "nonsense": re.compile(
        r"\b(?:ok|okay|okie|k|kk|yes|yeah|yea|yep|yup|ye|yh|yeh|aye|sure|fine|alright|no|nah|nope"
        r"|na|skip|maybe|dunno)\b",
        re.IGNORECASE,
    ),
    # "i need help with my anger", "help making friends": what is going on, not HELP.
    # "yes my dad says its fine to call or text this number": a yes or no about how to reach
    # them, with no word of help, danger or fear in it.
    "get_help": re.compile(
        r"\bhelp\s+(?:me\s+)?(?:with|making|to|getting|finding|for|about|sorting)\b"
        # "i help out at the stables", "helping my nan": what they do, not HELP.
        r"|\b(?:i|we|to|and|like|love|enjoy)\s+help(?:s|ed|ing)?\s+(?:out|at|my|our|people|others"
        r"|kids|children|animals|the|in|with)\b|\bhelping\b(?!\s+me\b)"
        r"|^\W*(?:yes|yeah|yea|yep|yh|ye|ok|okay|sure|fine|no|nah|nope)\b(?!.*\b(?:help\w*|sos"
        r"|emergency|urgent\w*|crisis|999|danger\w*|unsafe|scared|hurt\w*|now|asap|please help)\b)"
        r"(?=.*\b(?:call|text|ring|phone|message|number)\b)",
        re.IGNORECASE,
    ),
    # "i get no privacy at home", "my mum doesnt respect my privacy": what is going on.
    "privacy": re.compile(
        r"\b(?:no|any|zero|enough|some|more|own)\s+privacy\b"
        r"|\b(?:invad\w*|respect\w*|violat\w*)\s+(?:my\s+|our\s+)?privacy\b"
        r"|\bprivacy\s+(?:at|in)\s+(?:home|my|the|school|our)\b",
        re.IGNORECASE,
    ),
}
# A guessed interruption stands only when the message says something of that kind: an answer to
# a question ("get out more", "Glasgow", "Kit (he/they)", "make some friends") that a classifier
# reads as STOP, goodbye, a greeting or out of scope is still the answer. HELP's words are wide
# (a missed HELP costs more than a wasted turn); PRIVACY is left to the classifier.
SHAPES = {
    "stop": re.compile(
        r"\b(?:stop\w*|unsub\w*|opt(?:ing)?\s*(?:me\s+)?out|quit|cancel|end (?:this|it|the chat)"
        r"|leave me alone|go away|(?:dont|don'?t|do not|never) (?:text|message|msg|contact|talk to)"
        r"|no more (?:texts|messages|msgs)|done with (?:this|you)|dont want to do this)\b",
        re.IGNORECASE,
    ),
    "delete_data": re.compile(
        r"\b(?:delet\w*|del|erase\w*|wipe\w*|remove\w*|forget|get rid of|scrap|bin|destroy"
        r"|clear)\b",
        re.IGNORECASE,
    ),
    "start_over": re.compile(
        r"\b(?:restart\w*|re ?start|start (?:over|again|fresh|from scratch|all over|it again"
        r"|everything again|the whole thing again)|begin again|from the (?:start|beginning|top)"
        r"|redo|do (?:it )?(?:all )?(?:again|over)|go back to the (?:very )?(?:start|beginning)"
        r"|new referral|reset)\b",
        re.IGNORECASE,
    ),
    "human_handoff": re.compile(
        r"\b(?:person|human|someone|somebody|some1|real|link worker|worker|staff|adult|counsell?or"
        r"|talk to|speak to|chat to|call me|ring me|phone me|actual|people|mentor|advisor"
        r"|agent)\b",
        re.IGNORECASE,
    ),
    "thanks": re.compile(
        r"\b(?:thank\w*|thx|thnx|ta|ty+|tysm|cheers|appreciate\w*|nice one)\b|\u2764|\U0001f64f",
        re.IGNORECASE,
    ),
    "goodbye": re.compile(
        r"\b(?:bye+|goodbye|good bye|see ya|see you|cya|ttyl|gtg|g2g|(?:got|gotta|have|need)"
        r" to go|gotta (?:go|dash)|going now|laters|later|night|nite|goodnight|gn|speak soon"
        r"|ta ?ra|ciao|peace|im off|i'?m off|thats all|that'?s all|leave it there|done for now"
        r"|talk (?:later|tomorrow|tomoz|tmrw)|speak (?:later|tomorrow|tomoz)|signing off|brb)\b",
        re.IGNORECASE,
    ),
    "greet": re.compile(
        r"^\W*(?:hi+|hey+|hello+|hallo|hiya|heya|yo+|sup|wassup|wagwan|wag1|what'?s up|whats good"
        r"|good (?:morning|afternoon|evening)|hi there|hey there|hola|alright|ey up|oi|howdy"
        r"|morning|afternoon|evening|im back|i'?m back|(?:lets|let'?s|can we) start|start)\b",
        re.IGNORECASE,
    ),
    "bot_challenge": re.compile(
        r"\b(?:bot|robot|human|real|person|ai|automated|machine|computer|chatgpt|who (?:is|r|are)"
        r" (?:this|you|u)|whos this|what (?:is|are) (?:this|you|u)|whats this|is this|am i "
        r"(?:talking|speaking|texting)|are you|r u|is it|someone|somebody|anyone|other end"
        r"|texting me|who'?s (?:texting|there|this))\b",
        re.IGNORECASE,
    ),
    # HELP is kept whenever it could be meant; only an answer with no word of help, danger,
    # urgency or a number to call ("yes its my number" is not one) gives way.
    "get_help": re.compile(
        r"\b(?:help\w*|sos|emergency|urgent\w*|crisis|999|danger|unsafe|scared|hurt\w*|numbers"
        r"|(?:number|line) (?:to|i can|for)|what number|call|ring|phone|someone|asap|now)\b",
        re.IGNORECASE,
    ),
    # About what we hold on them: "know" or "got" alone ("i dont know what id say", "got
    # bullied") is not that; "about me", "on me", saving, data or a copy is.
    "ask_my_data": re.compile(
        r"\b(?:(?:know|knw|have|got|hold|held|saved?|stored?|kept|written|remember)\w*"
        r" (?:\w+ )?(?:about|bout|on|of) me|what (?:do|did|have) (?:you|u|ya) (?:\w+ )?(?:know|have"
        r"|got|hold|save|saved|store|stored|keep|kept|remember|written)|saved?|stored?"
        r"|keep (?:my|what)|kept|data|info\w*|details|copy|remember|written|told you so far"
        r"|see what|show me|have (?:you|u) got|what youve got)\b",
        re.IGNORECASE,
    ),
    # About privacy: "my mum wants me to do this" read as PRIVACY is the start of a referral.
    "privacy": re.compile(
        r"\b(?:privacy|private|confidential\w*|anonymous|secret|data|info\w*|sees?|see|read"
        r"|reads|share|shared|pass (?:this|it|that) on|tell|find out|protect\w*|held|hold|safe"
        r"|rights|used for|happens to|do with)\b",
        re.IGNORECASE,
    ),
    # About the service: what a link worker is, what it costs, what happens next.
    "ask_about_service": re.compile(
        r"\b(?:link ?workers?|youth ?link|what (?:even )?is (?:this|it)|this (?:service|for)"
        r"|service|free|cost\w*|pay|fee|how long|hear back"
        r"|will (?:\w+ ){0,3}(?:get in touch|contact)"
        r"|get out of (?:this|it)|referral|camhs|happens? (?:next|after|then|now|once|when)"
        r"|how does (?:this|it)|help (?:me )?(?:with|find)"
        r"|find (?:me )?(?:a|some|stuff|something)|club|do you (?:\w+ )?do"
        r"|counsell\w*|therapy|social worker|meet|have to|would i)\b",
        re.IGNORECASE,
    ),
    # Off-topic requests are asked for: a question, or something asked of the bot. An answer
    # that happens to start with "when" or "what" ("when the girls are at school", "what
    # matters is my brother") is not one.
    "out_of_scope": re.compile(
        r"\?|^\W*(?:(?:what|whats|wat|wot)\b(?! (?:matters|i |im |makes|would|id |really))"
        r"|who\b|who'?s\b|where (?:do|does|is|are|can|r)\b|where'?s\b|will it\b"
        r"|when (?:is|does|do|are|will|can)\b|why (?:is|are|do|does)\b"
        r"|how (?:tall|old|many|much|do|does|is|are|r|far|long)\b"
        r"|can (?:you|u)\b|could (?:you|u)\b|will (?:you|u)\b|would (?:you|u)\b"
        r"|do (?:you|u)\b|are (?:you|u)\b|r u\b|is it\b|tell me|give me|show me|get me|make me"
        r"|put (?:some|on|a)|recommend|solve|order|book|find me|play|sing|write (?:me|my)|do my"
        r"|any good|say something|directions)",
        re.IGNORECASE,
    ),
}
_VOWELS = re.compile(r"[aeiouy]")
_LETTERS = re.compile(r"[a-z]+")
_REPEAT = re.compile(r"(.)\1{3,}")


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def certain_intent(text: str) -> str | None:
    """The intent of a message that needs no guessing, or None."""
    stripped = text.strip()
    meanings = {EMOJI.get(ch) for ch in stripped.replace("\ufe0f", "") if not ch.isspace()}
    if stripped and len(meanings) == 1 and None not in meanings:
        return meanings.pop()  # e.g. "👍" or "👍👍"
    plain = " ".join(_plain(stripped).split())
    if plain in COMMANDS:
        return COMMANDS[plain]
    return "nonsense" if is_gibberish(stripped) else None


def not_a_command(intent: str | None, text: str) -> bool:
    """True when a command guess is plainly about their life ("i cant stop crying"), or says
    nothing of that kind at all ("get out more" is not STOP)."""
    text = DICTATED.sub(" ", text)  # "can you help me please full stop" says no STOP
    pattern = NOT_A_COMMAND.get(intent or "")
    if pattern and pattern.search(text):
        return True
    shape = SHAPES.get(intent or "")
    return bool(shape and not shape.search(text))


def is_gibberish(text: str) -> bool:
    """Keyboard mash, filler noises, or nothing but symbols and emoji."""
    lowered = text.lower().strip()
    if not lowered:
        return False
    if not re.search(r"[a-z0-9]", lowered):
        return True  # only symbols or emoji (the ones that mean something are matched first)
    if re.search(r"\d", lowered):
        return False  # ages and postcodes
    words = _LETTERS.findall(lowered)
    if words and all(w in FILLERS for w in words):
        return True
    return any(
        _REPEAT.search(w)
        or (len(w) >= 6 and not _VOWELS.search(w))
        or any(run in w for run in KEYBOARD_RUNS)
        for w in words
    )
