"""The raw-ASGI layer serving /v1.0 (and /beta): HTTP in, GraphRequest to the pipeline, bytes out.

Raw ASGI rather than a Starlette endpoint because it is on every request's path (pages of 999
users), and because dropping a connection (fault injection) needs uvicorn's own `send`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable
from urllib.parse import parse_qsl

from tenantsync.emulator.protocol import GraphRequest, dumps, loads, normalize_query

if TYPE_CHECKING:
    from tenantsync.emulator.core import Emulator

_STATIC_HEADERS = [(b"odata-version", b"4.0"), (b"cache-control", b"no-cache"),
                   (b"strict-transport-security", b"max-age=31536000")]


async def _read_body(receive: Callable[[], Awaitable[dict]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _drop(send: Callable[[dict], Awaitable[None]]) -> None:
    """Close the connection without answering (uvicorn exposes its transport on `send`)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: connection dropped")
    transport.close()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True        # so uvicorn does not try to answer a 500 afterwards


async def serve_graph(emulator: "Emulator", scope: dict, receive: Any, send: Any) -> None:
    """Answer one HTTP request under /v1.0 or /beta (scope path already collapsed; both are five
    characters long)."""
    raw = await _read_body(receive)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    body: Any = None
    if raw:
        try:
            body = loads(raw)
        except ValueError:
            body = raw                  # handlers answer 400 for a body that is not JSON
    server = scope.get("server") or ("127.0.0.1", 80)
    host = headers.get("host") or f"{server[0]}:{server[1]}"
    req = GraphRequest(method=scope["method"].upper(), path=scope["path"][5:] or "/",
                       query=normalize_query(parse_qsl(scope["query_string"].decode("latin-1"),
                                                       keep_blank_values=True)),
                       headers=headers, body=body, base=f"{scope.get('scheme', 'http')}://{host}",
                       version=scope["path"][1:5])
    delay = emulator.delay_seconds
    if delay > 0:
        await asyncio.sleep(delay)
    resp = emulator.handle(req)
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
    out = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in resp.headers.items()]
    out += _STATIC_HEADERS
    out.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": out})
    await send({"type": "http.response.body", "body": content})
