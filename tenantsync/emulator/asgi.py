"""The raw-ASGI layer serving /v1.0 (and /beta): HTTP in, GraphRequest to the pipeline, bytes out.

Raw ASGI rather than a Starlette endpoint because it is on every request's path (pages of 999
users), and because dropping a connection (fault injection) needs uvicorn's own `send`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tenantsync.emulator.limits import MAX_BODY_BYTES, TOO_LARGE_CODE, TOO_LARGE_MESSAGE
from tenantsync.emulator.protocol import JSON_CONTENT_TYPE, GraphRequest, dumps, error_response, loads, parse_query

if TYPE_CHECKING:
    from tenantsync.emulator.core import Emulator

_STATIC_HEADERS = [(b"odata-version", b"4.0"), (b"cache-control", b"no-cache"),
                   (b"strict-transport-security", b"max-age=31536000")]
log = logging.getLogger("tenantsync.emulator")
_DRAIN_BYTES = 256 * 1024 * 1024      # a larger body is not even read: 413 and close


async def _read_body(receive: Callable[[], Awaitable[dict]], limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes.

    A larger body is read to its end and dropped (up to _DRAIN_BYTES), so that the client, which
    writes its whole body before reading, sees the 413 rather than a reset connection; nothing of
    it is kept in memory."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            chunks = []
            if size > _DRAIN_BYTES:
                return None
        else:
            chunks.append(chunk)
        if not message.get("more_body"):
            break
    return None if size > limit else b"".join(chunks)


async def _drop(send: Callable[[dict], Awaitable[None]]) -> None:
    """Close the connection without answering (uvicorn exposes its transport on `send`)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: connection dropped")
    transport.close()
    if cycle is not None and hasattr(cycle, "disconnected"):
        cycle.disconnected = True        # so uvicorn does not try to answer a 500 afterwards


async def serve_graph(emulator: Emulator, scope: dict, receive: Any, send: Any) -> None:
    """Answer one HTTP request under /v1.0 or /beta (scope path already collapsed; both are five
    characters long)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    length = headers.get("content-length", "")
    raw = None
    if not (length.isdigit() and int(length) > _DRAIN_BYTES):
        raw = await _read_body(receive, MAX_BODY_BYTES)
    if raw is None:
        await send_error(scope, send, 413, TOO_LARGE_CODE, TOO_LARGE_MESSAGE, headers,
                         close=True)
        return
    body: Any = None
    if raw:
        try:
            body = loads(raw)
        except ValueError:
            body = raw                  # handlers answer 400 for a body that is not JSON
    server = scope.get("server") or ("127.0.0.1", 80)
    host = headers.get("host") or f"{server[0]}:{server[1]}"
    query, refusal = parse_query(scope["query_string"].decode("latin-1"))
    req = GraphRequest(method=scope["method"].upper(), path=scope["path"][5:] or "/",
                       query=query, refusal=refusal, headers=headers, body=body,
                       base=f"{scope.get('scheme', 'http')}://{host}", version=scope["path"][1:5])
    delay = emulator.delay_seconds
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        resp = emulator.handle(req)
    except Exception:                          # a bug outside a handler: still Graph's JSON
        log.exception("emulator failed on %s %s", req.method, req.path)
        await send_error(scope, send, 500, "UnknownError",
                         "The tenantsync emulator failed on this request.", headers)
        return
    if resp.drop:
        await _drop(send)
        return
    if resp.body is None:
        content = b""
    elif isinstance(resp.body, str):
        content = resp.body.encode()
    elif isinstance(resp.body, bytes):
        content = resp.body
    else:
        content = dumps(resp.body)
    await _send(send, resp.status, resp.headers, content)


async def _send(send: Any, status: int, headers: dict[str, str], content: bytes) -> None:
    out = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
    out += _STATIC_HEADERS
    out.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": content})


async def send_error(scope: dict, send: Any, status: int, code: str, message: str,
                     headers: dict[str, str] | None = None, *, close: bool = False) -> None:
    """A Graph error answered before the pipeline (no authentication, faults or stats): a body
    too large, or a path outside the served versions."""
    if headers is None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
    req = GraphRequest(method=scope["method"].upper(), path=scope["path"], query={},
                       headers=headers)
    resp = error_response(req, status, code, message)
    out = {"request-id": req.request_id,
           "client-request-id": headers.get("client-request-id", req.request_id),
           "Content-Type": JSON_CONTENT_TYPE}
    if close:
        out["Connection"] = "close"
    await _send(send, status, out, dumps(resp.body))
