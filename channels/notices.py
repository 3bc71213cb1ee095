"""The gateway's own fixed replies, kept short and in GSM-7 so each is one SMS."""

from __future__ import annotations

OPT_OUT_TEXT = (
    "You've unsubscribed from YouthLink and won't get more messages from us. "
    "Text START to message us again. If you're in danger now, call 999."
)
OPT_IN_TEXT = (
    "Welcome back to YouthLink. Text anything to carry on where we left off. "
    "Text HELP for urgent help numbers or STOP to stop."
)
MEDIA_TEXT = (
    "Thanks for sending that. I can only read text, so I can't see pictures, stickers or "
    "voice notes. Could you type it instead? Send HELP for urgent help numbers."
)
EMPTY_TEXT = "Your message came through empty. Could you type it again?"
