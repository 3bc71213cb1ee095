"""Custom actions for the YouthLink assistant (rasa-sdk action server)."""

from __future__ import annotations

import contextlib

from sanic import Sanic
from sanic.exceptions import SanicException

from youthlink.heap import freeze

ACTION_SERVER_APP = "rasa_sdk"
"""The name rasa-sdk gives its Sanic app, which exists when it imports this package."""


def freeze_once_serving(app_name: str = ACTION_SERVER_APP) -> None:
    """Freeze the heap once the Sanic app `app_name`, if there is one, has started serving."""
    # rasa-sdk creates its app, then imports the actions: once it serves, everything it loaded
    # (about 155,000 objects; a full collection walked them in 60 ms) is set aside from the
    # garbage collector (`youthlink.heap`). Imported anywhere else (tests), nothing happens.
    with contextlib.suppress(SanicException):
        app = Sanic.get_app(app_name)
        app.register_listener(lambda _app, _loop: freeze(), "after_server_start")


freeze_once_serving()
