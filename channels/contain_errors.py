"""An ASGI middleware that answers an unhandled error with a bare 500 and logs only its type.

Exception messages can carry the values that caused them (a message's text, a number), so
neither the response nor the log repeats them. A plain ASGI class rather than Starlette's
`BaseHTTPMiddleware`, which runs every request in a task of its own with streams between the
two: that was about 7% of the gateway's CPU per message.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ContainErrors:
    """Wraps an ASGI app; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            if not started:
                response = JSONResponse({"error": "internal error"}, status_code=500)
                await response(scope, receive, send)
