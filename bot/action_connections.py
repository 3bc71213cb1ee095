"""Keeps the Rasa server's HTTP connections to the action server open between calls.

Rasa 3.6 opens a new aiohttp session (and so a new TCP connection) for every call to the action
server, two calls on most form turns: under load that was 8% of the Rasa server's CPU. Installed
by `bot.speedups`, this makes `EndpointConfig.request` use one session per endpoint
URL and event loop, kept for the life of the process, and encode the request (the whole
tracker, 8% of the CPU) with ujson, which Rasa already depends on, rather than the standard
library's encoder. Requests, headers, parameters, timeouts and errors are as Rasa makes them;
an endpoint with its own CA file keeps Rasa's own path.

The sessions are closed when the server stops: Sanic cancels the tasks registered with its app
at shutdown, and a task registered with the first session waits for that. (Rasa's own shutdown
hook is registered before the model, and so this module, is loaded; Sanic accepts no new
listeners once it runs.) Without it, aiohttp reported the open connections as an error at every
shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ujson
from aiohttp.client_exceptions import ContentTypeError
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url
from sanic import Sanic
from sanic.exceptions import SanicException

_original_request = EndpointConfig.request
_sessions: dict[tuple[int, str | None], aiohttp.ClientSession] = {}


def _session_for(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    key = (id(loop), endpoint.url)
    session = _sessions.get(key)
    if session is None or session.closed:
        auth = None
        if endpoint.basic_auth:
            auth = aiohttp.BasicAuth(
                endpoint.basic_auth["username"], endpoint.basic_auth["password"]
            )
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            json_serialize=ujson.dumps,
        )
        if not any(other[0] == key[0] for other in _sessions):
            _close_at_shutdown(key[0])
        _sessions[key] = session
    return session


def _close_at_shutdown(loop_id: int) -> None:
    try:
        app = Sanic.get_app()
        if id(app.loop) != loop_id:
            return
    except SanicException:
        return  # not in a running Sanic server (`rasa test`): nothing to wait for
    app.add_task(_close_when_cancelled(loop_id), name=f"youthlink.action_sessions.{loop_id}")


async def _close_when_cancelled(loop_id: int) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await close_sessions()


async def close_sessions() -> None:
    """Close the sessions kept for the running event loop (done at the server's shutdown)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [key for key in _sessions if key[0] == loop_id]:
        await _sessions.pop(key).close()


async def request(
    self: EndpointConfig,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any:
    """`EndpointConfig.request` on a kept session (see the module docstring)."""
    if self.cafile:
        return await _original_request(self, method, subpath, content_type, compress, **kwargs)
    headers: dict[str, Any] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    url = concat_url(self.url, subpath)
    async with _session_for(self).request(
        method,
        url,
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(
                response.status, response.reason, await response.content.read()
            )
        try:
            return await response.json()
        except ContentTypeError:
            return None


def install() -> None:
    """Make Rasa keep its connections to endpoints open."""
    EndpointConfig.request = request  # type: ignore[method-assign]
