"""The reports folder over HTTP, read-only, for the links of the Prefect UI (`make ui` starts it).

    python -m flows.report_server --dir data/reports [--port 4201]

Listens on 127.0.0.1 only and answers GET and HEAD of the files under the folder (Starlette's
StaticFiles: no directory listing, nothing outside the folder: `..` and symbolic links leading out
are 404). Every answer carries ``X-Content-Type-Options: nosniff`` and a Content-Security-Policy
that allows no script and nothing from the network (summary.html needs neither: its SVG and style
are inline), so a display name in a CSV or the summary is never run by the browser.
``GET /_reports/health`` answers 200 (a configuration's name never starts with ``_``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

HEALTH = "/_reports/health"
HEADERS = [(b"x-content-type-options", b"nosniff"),
           (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
           (b"cache-control", b"no-cache"),
           (b"referrer-policy", b"no-referrer")]


class _Headers:
    """ASGI middleware adding HEADERS to every HTTP answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def app(folder: str | Path) -> Any:
    """The ASGI application serving ``folder`` (created when missing)."""
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route(HEALTH, health),
                              Mount("/", app=StaticFiles(directory=root, html=False, follow_symlink=False))])
    return _Headers(inner)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m flows.report_server", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="data/reports", help="the reports folder (default data/reports)")
    parser.add_argument("--port", type=int, default=4201, help="port on 127.0.0.1 (default 4201)")
    args = parser.parse_args(argv)
    uvicorn.run(app(args.dir), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
