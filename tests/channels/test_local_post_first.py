"""The local API's POST skips FastAPI's middleware but is answered as the app would answer it."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from channels.errors import BadRequest, TextTooLong, Unauthorized
from channels.gateway import LOCAL_PATH, LocalPostFirst
from tests.support.asgi import call

pytestmark = pytest.mark.unit

SECRET = "07700900123 said something private"


def build(outcome: str) -> LocalPostFirst:
    app = FastAPI()
    app.state.marker = "the app's state"

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    @app.exception_handler(BadRequest)
    async def _bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status_code)

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {"via": "app"}

    async def post(request: Request) -> Response:
        if outcome == "unauthorized":
            raise Unauthorized("missing or wrong token")
        if outcome == "too long":
            raise TextTooLong("the request body is too large")
        if outcome == "broken":
            raise ValueError(SECRET)
        return JSONResponse({"state": request.app.state.marker})

    app.add_route(LOCAL_PATH, post, methods=["POST"])
    return LocalPostFirst(app, post)


async def test_the_post_reaches_its_handler_with_the_apps_state() -> None:
    status, _, body = await call(build("fine"), "POST", LOCAL_PATH)
    assert (status, json.loads(body)) == (200, {"state": "the app's state"})


async def test_its_errors_get_the_apps_answers() -> None:
    status, headers, body = await call(build("unauthorized"), "POST", LOCAL_PATH)
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert json.loads(body) == {"error": "missing or wrong token"}
    status, _, body = await call(build("too long"), "POST", LOCAL_PATH)  # a BadRequest subclass
    assert status == TextTooLong("x").status_code and json.loads(body)["error"]


async def test_an_unexpected_error_is_a_bare_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    status, _, body = await call(build("broken"), "POST", LOCAL_PATH)
    assert (status, json.loads(body)) == (500, {"error": "internal error"})
    assert "unhandled ValueError on POST /local/messages" in caplog.text
    assert "07700900123" not in caplog.text


async def test_everything_else_goes_to_the_app() -> None:
    app = build("broken")
    status, _, body = await call(app, "GET", "/other")
    assert (status, json.loads(body)) == (200, {"via": "app"})
    status, _, _ = await call(app, "GET", LOCAL_PATH)  # only the POST is taken first
    assert status == 405
