"""Pure readers of the young person's answers: yes/no, skip, age, name and pronouns, area, etc."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from actions.text import DICTATED, normalise

SKIP_PHRASES = frozenset(
    normalise(p)
    for p in (
        "skip", "skip it", "skip this", "skip that", "skip pls", "skip please", "pass", "next",
        "next question", "rather not say", "id rather not say", "prefer not to say",
        "i prefer not to say", "dont want to say", "i dont want to say", "not telling",
        "no comment", "none", "nothing", "no", "nope", "nah", "na", "n/a", "idk", "i dont know",
        "dunno", "not sure", "no idea", "leave it blank", "no thanks", "nothing really",
        "none really", "not really", "-", "id rather not", "rather not", "i would rather not",
        "prefer not", "id prefer not to", "i dont know tbh", "dont know", "pass on that",
        "skp", "sikp", "skipp", "skip for now", "not now", "no ta",
        "idc", "i dont care", "dont care", "dont mind", "i dont mind", "whatever", "anything",
        "any", "doesnt matter", "it doesnt matter", "dont matter", "up to you",
    )
)  # fmt: skip

YES_WORDS = frozenset(
    [
        "yes",
        "yeah",
        "yea",
        "ye",
        "yep",
        "yup",
        "ya",
        "yh",
        "yeh",
        "yess",
        "yas",
        "yass",
        "ok",
        "okay",
        "okie",
        "k",
        "kk",
        "sure",
        "fine",
        "alright",
        "course",
        "definitely",
        "deffo",
        "correct",
        "y",
        "aye",
        "go",
        "safe",
        "cool",
        "sound",
        "bet",
        "aight",
        "ight",
        "yus",
        "perfect",
        "suppose",
        "grand",
        "great",
        "brill",
        "brilliant",
        "ace",
        "mint",
        "lush",
        "champion",
        "absolutely",
        "totally",
        "mhm",
        "mhmm",
        "mmhm",
        "uhuh",
    ]
)
YES_PHRASES = (
    "of course",
    "go on",
    "go ahead",
    "sounds good",
    "thats fine",
    "thats right",
    "thats correct",
    "its fine",
    "its safe",
    "it is safe",
    "its ok",
    "its okay",
    "why not",
    "i suppose",
    "i guess",
    "guess so",
    "suppose so",
    "ok i guess",
    "okay i guess",
    "fine i guess",
    "if i have to",
    "i think so",
    "think so",
    "all good",
    "looks good",
    "looks right",
    "looks fine",
    "looks ok",
    "looks okay",
    "looks great",
    "looks correct",
    "looks alright",
    "spot on",
    "bang on",
    "go for it",
    "all correct",
    "all right",
    "sounds alright",
    "sounds ok",
    "sounds okay",
    "sounds fine",
    "sounds great",
    "send it",
    "👍",
    "✅",
)
HESITATIONS = frozenset(
    ("um", "umm", "ummm", "erm", "ermm", "uh", "uhh", "er", "hmm", "hmmm", "mm", "mmm", "ah", "oh",
     "ooh", "well", "like", "so", "lol", "haha", "ha", "then", "actually", "honestly", "tbh")
)  # fmt: skip
NO_WORDS = frozenset(["no", "nope", "nah", "naa", "na", "n", "never", "dont", "nooo", "noo", "not"])
NO_PHRASES = (
    "👎", "❌", "no thanks", "rather not", "id rather not", "i'd rather not", "absolutely not",
    "definitely not", "deffo not", "hell no", "no way", "i dont think so", "not right now",
    "its not", "it is not", "please dont", "better not",
)  # fmt: skip
# Someone else reads their phone: not safe to contact them on it, whatever else they say.
PHONE_WATCHED = re.compile(
    r"\b(?:mum|mom|mam|dad|parents?|stepdad|stepmum|step dad|step mum|carers?|brother|sister|"
    r"nan|nana|gran|grandma|grandad|aunt|auntie|uncle|boyfriend|girlfriend|bf|gf|partner|family|"
    r"foster \w+|they|he|she|someone|somebody|people)\b(?: \w+){0,2} (?:checks?|checking|"
    r"reads?|reading|looks? (?:at|through)|going through|goes through|go through|sees?|takes?|"
    r"uses?|shares?)\b(?: \w+){0,2} (?:my )?(?:phone|texts|messages|msgs)\b"
    # "takes my phone at 9": when they can be reached, not who reads it.
    r"(?<!takes my phone)(?<!take my phone)(?<!takes the phone)"
    r"|\b(?:takes?|taking|took) (?:my |the )?phone\b(?! (?:at|away at|off me at|every night"
    r"|at night|after|before|from|when|overnight|in the evening)\b)"
)
UNSURE = frozenset(("not sure", "idk", "dunno", "maybe", "i dont know", "not sure tbh", "hmm"))
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40}

AGE_BANDS = (
    (0, 10, "under_11"),
    (11, 12, "11_12"),
    (13, 15, "13_15"),
    (16, 17, "16_17"),
    (18, 25, "18_25"),
)

PRONOUNS = re.compile(
    r"\b(?:(?:she|he|they|xe|ze|fae|it)\s*/\s*(?:her|hers|him|his|them|theirs|they|she|he|xem|"
    r"zir|hir|faer|it|its)(?:\s*/\s*[a-z]+)?|any pronouns|all pronouns)\b",
    re.IGNORECASE,
)
NAME_PREFIX = re.compile(
    r"^(?:hi|hey|hello)?[\s,!.]*(?:my names?(?: is)?|my name's|you can call me|call me|"
    r"i am|i'm|im|it's|its|it is|just|they call me)\b[\s:,-]*",
    re.IGNORECASE,
)
NAME_SUFFIX = re.compile(
    r"\s+(?:is (?:fine|ok|okay|good|great)|will do|please|pls|thanks|thank you|ta|x+)$",
    re.IGNORECASE,
)
CALLED = re.compile(
    r"(?:\b(?:every(?:one|body)|people|they|my (?:mates|friends)|all my mates)\s+(?:just\s+)?"
    r"call(?:s)?\s+(?:me|us)"
    # "Mohammed but call me Mo", "Jessica, call me Jess": the name they want used
    r"|(?:\bbut|,|\band|\bor)\s+(?:just\s+|please\s+|pls\s+)?(?:you can\s+)?call\s+me)"
    r"\s+([A-Za-z][\w'-]{0,20})\b",
    re.IGNORECASE,
)
PRONOUN_TALK = re.compile(
    r"\b(?:and )?(?:(?:can|could|may) i |i want to |i'?d like to )?(?:tell|say|give|share)"
    r"(?: you)? my pronouns\b\??|\b(?:and )?(?:i use|my pronouns are|pronouns(?: are)?|use)\b"
    r"[\s:]*$",
    re.IGNORECASE,
)

FULL_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*\d[A-Z]{2}\b", re.IGNORECASE)
OUTWARD_CODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(?:\s+\d)?$", re.IGNORECASE)
STREET = re.compile(
    r"\b\d+[a-z]?\s+(?:[a-z'.-]+\s+){0,3}(?:street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|"
    r"way|crescent|cres|court|ct|terrace|grove|place|pl|gardens|gdns|walk|mews|row|hill|view|"
    r"square|sq|park|green|rise|vale)\b",
    re.IGNORECASE,
)
HOUSE_WORDS = re.compile(r"\b(?:flat|apartment|apt|house number|number \d+|no\.? ?\d+)\b", re.I)
AREA_PREFIX = re.compile(
    r"^(?:i live in|i live near|i live|live in|im in|i'm in|i am in|im from|i'm from|from|in|"
    r"near|around|just outside|outside|the|somewhere near|close to|just)\s+",
    re.IGNORECASE,
)
AREA_SUFFIX = re.compile(
    r"(?:\s+(?:area|way|side|ish|innit|lol|tbh|mate|thanks|ta|x+))+$", re.IGNORECASE
)
CORRECTED_AREA = re.compile(r"(?:[.,!]\s*|\s)(?:just|only)\s+([A-Za-z][A-Za-z' -]{1,40})$")
TOWN_AND_DISTRICT = re.compile(r"^(.*?)[\s,]+([A-Z]{1,2}\d[A-Z\d]?)$", re.IGNORECASE)

PARTS = (
    ("cancel", r"\b(?:cancel|dont send|don't send|do not send|not send)\b"),
    ("none", r"^(?:nothing|none|no changes?|its fine|it's fine|all good)\b"),
    ("pronouns", r"\bpronoun"),
    ("preferred_name", r"\bname\b|\bcall me\b"),
    ("age", r"\bage\b|\bold\b"),
    ("concerns", r"going on|concern|problem|worr|what i said|whats happening|what's happening"),
    ("interests", r"enjoy|interest|hobb|like doing|want to try|activities"),
    ("what_matters", r"matter|goal"),
    ("area", r"\barea\b|\btown\b|postcode|where i live|location"),
    ("best_times", r"\btimes?\b|\bwhen\b"),
    ("contact", r"contact|number|phone|call|text|message|safe|chat"),
)


# "dont really want to say", "id rather not share that": a skip however it is put.
SKIP_PATTERN = re.compile(
    r"^(?:i |id |i would |i d )?(?:dont|do not|rather not|would rather not|prefer not to|"
    r"not)(?: really)?(?: want to| wanna| like to)? (?:say|tell|share|give|telling|saying|sharing)"
    r"(?: (?:it|that|this|you|my name|them|thanks|tbh|rn|right now|yet))*$"
)


def is_skip(text: str, intent: str | None = None) -> bool:
    """True when the answer means "skip this question" (a `/skip` button or the words)."""
    if intent == "skip" and text.startswith("/"):
        return True
    normalised = normalise(text)
    if not normalised and text.strip() not in ("-", "--"):
        return False  # an emoji ("👍") is an answer, not a skip
    return (
        normalised in SKIP_PHRASES
        or normalised.startswith("skip")
        or bool(SKIP_PATTERN.match(normalised))
    )


def yes_no(text: str, intent: str | None = None) -> bool | None:
    """Read a yes/no answer; None when it is neither."""
    if text.startswith("/"):
        return {"affirm": True, "deny": False}.get(intent or "")
    normalised = normalise(text)
    if normalised in UNSURE:
        return None
    tokens = normalised.split()
    while len(tokens) > 1 and tokens[0] in HESITATIONS:  # "umm ok", "erm no", "oh go on then"
        tokens = tokens[1:]
    normalised = " ".join(tokens)
    lowered = text.strip().lower()
    for _ in range(len(lowered.split())):
        head, _, rest = lowered.partition(" ")
        if not rest or normalise(head) not in HESITATIONS:
            break
        lowered = rest.strip()
    readings = (lowered, normalised)  # emoji survive in the first, apostrophes go in the second
    if (tokens and tokens[0] in NO_WORDS) or any(
        reading.startswith(p) for p in NO_PHRASES for reading in readings
    ):
        return False
    if (tokens and tokens[0] in YES_WORDS) or any(
        reading.startswith(p) for p in YES_PHRASES for reading in readings
    ):
        return True
    # "i dont really know what id say. but ok yeah", "what happens to what i say? ...ok yeah
    # fine": the answer comes after the doubt or the question.
    clauses = [c.strip() for c in CLAUSE_BREAK.split(text.strip().lower()) if normalise(c)]
    if len(clauses) > 1:
        return yes_no(clauses[-1], intent)
    # "she said its ok", "im fine to go ahead": a yes said last, with no "not" or "dont" in it.
    if not NEGATION.search(normalised) and (
        (tokens and tokens[-1] in YES_WORDS and len(tokens) <= 6)
        or any(normalised.endswith(normalise(p)) for p in YES_PHRASES if normalise(p))
        or YES_SAID.search(normalised)
    ):
        return True
    return {"affirm": True, "deny": False}.get(intent or "")


# "wait whats a link worker 😅 ok yes": an emoji ends a clause too; "if its not then yeah ok":
# what comes after "then" is the answer to the condition they set.
CLAUSE_BREAK = re.compile(
    r"[?.!…,;\u2600-\u27bf\U0001f300-\U0001faff]+|\bbut\b|\bso\b|\bif\b.+?\bthen\b"
)
NEGATION = re.compile(
    r"\b(?:not|no|dont|do not|never|cant|cannot|wont|isnt|aint|nah|nope|rather|if|whether|idk"
    r"|dunno|unsure|maybe|might)\b"
)
YES_SAID = re.compile(
    r"\b(?:(?:im|i am) (?:happy|fine|ok|okay|good|down)(?: (?:with|to|for))?|happy to"
    r"|fine (?:with|to|by me)|ok with|okay with|(?:said|says) (?:its|it is|thats|that is|i can)"
    r"(?: ok| okay| fine| alright)?)\b"
)


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# A number with what it is, if anything: "14", "14yo", "14 yrs", "year 10" (a school year).
_AGE_NUMBER = re.compile(r"\b(?:(year|yr|y)\s*)?(\d{1,3})(?:\s*(?:yo|y o|yrs?|years?))?\b")
# "nearly 16", "turning 16", "16 next month", "16 in june": not that age yet.
_NOT_YET_BEFORE = re.compile(r"\b(?:nearly|almost|turning|turn|about to be|soon)\s*$")
_NOT_YET_AFTER = re.compile(rf"^\s*(?:next (?:month|week|year)|soon|in (?:{_MONTHS})\b)")


def phone_watched(text: str) -> bool:
    """True when the answer says someone else reads their phone ("my mum checks my phone")."""
    return bool(PHONE_WATCHED.search(normalise(text)))


# "only text not call", "text only please", "chat is better than calls": contact here is fine,
# by message. A refusal ("no", "not this number") is read before this.
MESSAGES_ONLY = re.compile(
    r"\b(?:only (?:by )?(?:text|texts|texting|message|messages|messaging|chat|whatsapp)"
    r"|(?:text|texts|texting|message|messages|messaging|chat|whatsapp)(?:ing)? (?:only|is fine|"
    r"is ok|is okay|is better|is best|are fine|are ok|is good|please|pls|not (?:a )?calls?)"
    r"|(?:text|message|chat|whatsapp) (?:me|is fine) (?:but )?(?:dont|do not|no|not) "
    r"(?:call|ring|phone)"
    r"|(?:text|message|msg|whatsapp)(?: me)? "
    r"(?:first|before (?:calling|ringing|phoning|you call)))\b"
)


def messages_only(text: str) -> bool:
    """True when the answer agrees to contact here but by message only ("text only please")."""
    normalised = normalise(text)
    return bool(MESSAGES_ONLY.search(normalised)) and not normalised.startswith(("no ", "not "))


# "year 9", "yr 12", "y7", "im in year 10", Scotland's "S3": the two ages a school year holds.
_SCHOOL_YEAR = re.compile(r"\b(?:(?:year|yr|y) ?([7-9]|1[0-3])|s ?([1-6]))\b")


def school_year_ages(text: str) -> tuple[int, int] | None:
    """The two ages of a school year given instead of an age ("year 9" -> 13 or 14), or None."""
    match = _SCHOOL_YEAR.search(normalise(text))
    if match is None or parse_age(text) is not None:
        return None
    youngest = int(match.group(1)) + 4 if match.group(1) else int(match.group(2)) + 10
    return youngest, youngest + 1


def read_contact_ok(text: str, intent: str | None = None) -> bool | None:
    """Is it safe and OK to contact them here: True, False (ask another way), or None."""
    if is_skip(text, intent) or phone_watched(text):
        return False  # not said to be safe, or someone else reads the phone
    if messages_only(text):
        return True
    return yes_no(text, intent)


def answer_within(slot: str, text: str) -> dict[str, object]:
    """What a message that says more than the question asked ("Bradford, but i dont want to go
    home tonight...") still answers of it: the slots it fills, or nothing."""
    if slot == "area":
        first, *rest = re.split(r"[,.;!?]|\bbut\b|\band\b", text, maxsplit=1)
        if not rest or len(first.split()) > 3:
            return {}  # only a place said first and on its own ("Bradford, but...") is the area
        area = read_area(first).area
        return {"area": area} if area else {}
    if slot == "contact_ok":
        ok = read_contact_ok(text)
        return {} if ok is None else {"contact_ok": ok}
    if slot == "age":
        age = parse_age(text)
        return {} if age is None or not 5 <= age <= 120 else {"age": age, "age_band": age_band(age)}
    if slot == "best_times":
        return {"best_times": text.strip()[:200]}
    return {}


def parse_age(text: str) -> int | None:
    """An age in years from "14", "im 14", "14yo", "fourteen", "nearly 16" (15); None if there is
    none. A school year ("year 10") is not an age: None, so the question is asked again."""
    normalised = normalise(text)
    not_yet: int | None = None
    for match in _AGE_NUMBER.finditer(normalised):
        if match.group(1):
            continue  # "year 10": 14 or 15, not 10
        number = int(match.group(2))
        before, after = normalised[: match.start()], normalised[match.end() :]
        if _NOT_YET_BEFORE.search(before) or _NOT_YET_AFTER.match(after):
            not_yet = number - 1 if not_yet is None else not_yet
            continue
        return number  # "im 17 nearly 18": the age they are
    if not_yet is not None:
        return not_yet
    if re.search(r"\b(?:year|yr)\s*\d", normalised):
        return None
    tokens = normalised.replace("-", " ").split()
    for i, token in enumerate(tokens):
        if token in TENS:
            unit = NUMBER_WORDS.get(tokens[i + 1], 0) if i + 1 < len(tokens) else 0
            age = TENS[token] + (unit if unit < 10 else 0)
        elif token in NUMBER_WORDS:
            age = NUMBER_WORDS[token]
        else:
            continue
        if _NOT_YET_BEFORE.search(" ".join(tokens[:i])):
            return age - 1
        return age
    return None


def age_band(age: int) -> str:
    """The referral's age band for an age in years."""
    for low, high, band in AGE_BANDS:
        if low <= age <= high:
            return band
    return "over_25"


def find_pronouns(text: str) -> str | None:
    """Pronouns written like "they/them", "she/her" or "any pronouns", as written."""
    match = PRONOUNS.search(text)
    return match.group(0).replace(" ", "")[:40] if match else None


def mentions_pronouns(text: str) -> bool:
    """True when the message talks about pronouns (with or without giving them)."""
    return "pronoun" in text.lower()


@dataclass(frozen=True)
class NameAnswer:
    """A preferred name and pronouns read from one answer."""

    name: str | None
    pronouns: str | None


def read_name(text: str) -> NameAnswer:
    """Split "Sam, they/them" or "my name is Sam and I use they/them" into name and pronouns."""
    pronouns = find_pronouns(text)
    called = CALLED.search(text)
    if called:  # "Jordan but everyone calls us JD": the name they go by
        text = called.group(1)
    rest = PRONOUNS.sub(" ", text)
    rest = re.sub(r"(?:^|[\s,])\d{1,2}(?=$|[\s,.!])", " ", rest)  # "Leo, he/him, 14"
    rest = re.sub(r"[()\[\]]", " ", rest)
    rest = DICTATED.sub(" ", rest)
    rest = re.sub(r"(?:\s+[A-Za-z]\b){2,}[\s.]*$", " ", rest)  # "Callum C A L L U M": spelt out
    previous = None
    while previous != rest:  # "just call me J": one prefix after another
        previous, rest = rest, NAME_PREFIX.sub("", rest.strip())
    rest = re.sub(r"\s*\bif (?:thats|that is|its|it is) (?:ok|okay|alright|fine)\b\W*$", "", rest)
    rest = PRONOUN_TALK.sub("", rest.strip(" ,.!-"))
    rest = NAME_SUFFIX.sub("", rest.strip(" ,.!-"))  # "Priya is fine."
    rest = re.sub(r"\s+", " ", rest).strip(" ,.!-:;")
    if not rest or len(rest) > 40 or len(rest.split()) > 4 or re.search(r"\d", rest):
        return NameAnswer(None, pronouns)
    return NameAnswer(rest[:1].upper() + rest[1:], pronouns)


@dataclass(frozen=True)
class AreaAnswer:
    """An area to keep (town or postcode district) and whether more was given than we keep."""

    area: str | None
    trimmed: bool = False


def read_area(text: str) -> AreaAnswer:
    """Keep only a town or the outward part of a postcode; never a street or full postcode."""
    full = FULL_POSTCODE.search(text)
    if full:
        return AreaAnswer(full.group(1).upper(), trimmed=True)
    cleaned = re.sub(r"\s+", " ", text).strip(" .,!")
    correction = CORRECTED_AREA.search(cleaned)
    if correction:  # "14 Ashfield Road, Southall... wait, just Southall"
        return replace(read_area(correction.group(1)), trimmed=True)
    outward = OUTWARD_CODE.match(AREA_SUFFIX.sub("", AREA_PREFIX.sub("", cleaned)))
    if outward:
        return AreaAnswer(outward.group(1).upper(), trimmed=outward.group(0) != outward.group(1))
    trimmed = False
    street = STREET.search(cleaned)
    if street or HOUSE_WORDS.search(cleaned):
        # Keep what follows the street as the town ("12 Oak Road, Leeds" -> "Leeds").
        tail = cleaned[street.end() :] if street else cleaned.rsplit(",", 1)[-1]
        if not street and "," not in cleaned:
            return AreaAnswer(None, trimmed=True)
        cleaned, trimmed = tail.strip(" ,.-"), True
    cleaned = AREA_PREFIX.sub("", cleaned)
    cleaned = AREA_SUFFIX.sub("", cleaned).strip(" ,.")
    district = TOWN_AND_DISTRICT.match(cleaned)
    if district:  # "Sheffield S11", "the toon, NE6": a town and its postcode district
        town = AREA_PREFIX.sub("", district.group(1).strip(" ,."))
        code = district.group(2).upper()
        if town and not re.search(r"\d", town) and len(town.split()) <= 3:
            return AreaAnswer(f"{_town_case(town)} {code}", trimmed=trimmed)
        return AreaAnswer(code, trimmed=trimmed)
    if not cleaned or re.search(r"\d", cleaned) or len(cleaned) > 40 or len(cleaned.split()) > 4:
        return AreaAnswer(None, trimmed=trimmed)
    return AreaAnswer(_town_case(cleaned), trimmed=trimmed)


def _town_case(town: str) -> str:
    return " ".join(w if not w.islower() else w.capitalize() for w in town.split())


def read_contact_other(text: str, entity: str | None = None) -> str | None:
    """The other way to be contacted: "phone_call", "none", or None when unclear."""
    if entity in ("phone_call", "none"):
        return entity
    normalised = normalise(text)
    if re.search(r"\b(?:call|phone|ring|calling)\b", normalised) and not re.search(
        r"\b(?:dont|no|not|never)\b", normalised
    ):
        return "phone_call"
    if is_skip(text) or re.search(r"\b(?:no|none|nothing|dont|not|later|myself)\b", normalised):
        return "none"
    return None


def read_part(text: str, entity: str | None = None) -> str | None:
    """Which part of the summary to change (a slot group name), "none", "cancel" or None."""
    if entity:
        return entity
    normalised = normalise(text)
    for part, pattern in PARTS:
        if re.search(pattern, normalised):
            return part
    return None


# "change my name to Jess", "name, Jay", "just put Jay", "everyone calls me Jess": the new name.
NEW_NAME = re.compile(
    r"\b(?:to|put|call me|calls me|calls us|as|name\s*[-,:]|name is|its|it's)\s+"
    r"([A-Za-z][\w'-]{0,20})\b"
)
# "its Knaresborough not Harrogate", "the town, its Knaresborough", "change my area to LS7".
NEW_AREA = re.compile(
    r"\b(?:to|its|it's|it is|is|town\s*[-,:]|area\s*[-,:]|postcode\s*[-,:]|live in|im in|i'm in)"
    r"\s+([A-Za-z][\w' -]{1,30}?)\s*(?=\bnot\b|\binstead\b|[.,!?]|$)"
)
_NOT_A_VALUE = frozenset(
    ["my", "the", "a", "it", "that", "this", "something", "name", "change", "please", "pls", "be",
     "me", "just", "actually", "wrong", "different", "another", "edit", "fix", "update", "where"]
)  # fmt: skip


def read_new_value(text: str, part: str) -> str | None:
    """The new name or area given with a request to change it, or None when none was given."""
    if part == "preferred_name":
        names = [m.group(1) for m in NEW_NAME.finditer(text)]
        names = [n for n in names if n.lower() not in _NOT_A_VALUE]
        return read_name(names[-1]).name if names else None
    if part == "area":
        for match in reversed(list(NEW_AREA.finditer(text))):
            candidate = re.sub(r"^(?:its|it's|it is)\s+", "", match.group(1).strip(), flags=re.I)
            if candidate.split()[0].lower() in _NOT_A_VALUE:
                continue
            return read_area(candidate).area
    return None


def read_goals(text: str) -> list[str]:
    """Up to three goals in their own words, split where they list several."""
    pieces = re.split(r"\s*(?:,|;|\n|\band also\b|\balso\b|\band\b|&|\+)\s*", text.strip())
    goals = [p.strip(" .") for p in pieces if len(p.strip(" .")) > 2]
    return [g[:300] for g in goals[:3]]


# "afternoon", "evening": a greeting on its own, but an answer to "when's best?".
TIME_WORDS = re.compile(
    r"\b(?:morning|afternoon|evening|night|weekend|weekday|day|lunch|after|before|am|pm"
    r"|mon|tue|wed|thu|fri|sat|sun)\w*|\d",
    re.IGNORECASE,
)


def is_filler(text: str, intent: str | None) -> bool:
    """A greeting or thanks on its own, which answers no question."""
    return intent in ("greet", "thanks", "goodbye") and len(normalise(text).split()) <= 3
