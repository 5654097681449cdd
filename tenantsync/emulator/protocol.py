"""Graph's wire conventions: request/response records, error shape, JSON, opaque tokens."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

try:                                    # orjson is ~10x faster on 999-user pages; prefect ships it
    import orjson

    def dumps(obj: Any) -> bytes:
        """Serialize to compact JSON bytes."""
        return orjson.dumps(obj)

    def loads(data: bytes | str) -> Any:
        """Parse JSON."""
        return orjson.loads(data)
except ImportError:                     # pragma: no cover - fallback keeps the emulator usable
    def dumps(obj: Any) -> bytes:
        """Serialize to compact JSON bytes."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def loads(data: bytes | str) -> Any:
        """Parse JSON."""
        return json.loads(data)

if TYPE_CHECKING:
    from tenantsync.emulator.core import Emulator
    from tenantsync.emulator.directory import Tenant

JSON_CONTENT_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
                     "IEEE754Compatible=false;charset=utf-8")
GRAPH_VERSION = "v1.0"
# Resources Graph documents under /beta only are served there (their routes' templates start with
# /beta); a /v1.0 request never reaches them, as Graph answers it "Resource not found".
BETA_VERSION = "beta"


class GraphHttpError(Exception):
    """Raised by handlers; becomes a Graph-shaped error response."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphHttpError:
    """400 with Graph's directory error code."""
    return GraphHttpError(400, code, message)


def not_found(object_id: str) -> GraphHttpError:
    """404 the way Graph words it for directory objects."""
    return GraphHttpError(404, "Request_ResourceNotFound",
                          f"Resource '{object_id}' does not exist or one of its queried "
                          "reference-property objects are not present.")


@dataclass
class GraphRequest:
    """One Graph call, from HTTP or from a $batch item. `path` is relative to /v1.0 (or /beta)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]                  # lower-case names
    body: Any = None
    base: str = "http://127.0.0.1"           # scheme://host[:port] used to build absolute links
    is_item: bool = False
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tenant: Tenant | None = None
    app_id: str = ""
    roles: frozenset[str] | None = None    # the token's application permissions; None: all
    owned_only: bool = False                 # allowed only by an *.OwnedBy permission
    emulator: Emulator | None = None
    template: str = ""
    version: str = GRAPH_VERSION             # "v1.0", or "beta" for the beta-only routes
    refusal: GraphHttpError | None = None  # a malformed query: answered after authentication

    @property
    def home_tenant(self) -> Tenant:
        """The tenant the token belongs to; set by authentication, before any handler runs."""
        if self.tenant is None:
            raise RuntimeError(f"{self.method} {self.path}: the request has not been authenticated")
        return self.tenant

    @property
    def emu(self) -> Emulator:
        """The emulator answering the request (Emulator.handle sets it first)."""
        if self.emulator is None:
            raise RuntimeError(f"{self.method} {self.path}: the request is not being handled")
        return self.emulator

    @property
    def graph_root(self) -> str:
        """Absolute URL of the Graph version root, e.g. http://127.0.0.1:8765/v1.0."""
        return f"{self.base}/{self.version}"

    @property
    def route_path(self) -> str:
        """The path the route table is searched with: beta routes are registered under /beta, and
        a /v1.0 request for "/beta/..." must not find them."""
        if self.version != GRAPH_VERSION:
            return f"/{self.version}{self.path}"
        return f"/{GRAPH_VERSION}{self.path}" if self.path.lower().startswith(f"/{BETA_VERSION}/") else self.path

    def context(self, fragment: str) -> str:
        """An @odata.context value for this request."""
        return f"{self.graph_root}/$metadata#{fragment}"

    def link(self, path: str, params: dict[str, str]) -> str:
        """An absolute link (nextLink, deltaLink) to `path` with query `params`."""
        query = urlencode(params, safe="$,'()") if params else ""
        return f"{self.graph_root}{path}" + (f"?{query}" if query else "")


@dataclass
class GraphResponse:
    """What a handler answers; `drop` asks the HTTP layer to close the connection instead."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


_SYSTEM_OPTIONS = {"select", "filter", "top", "count", "expand", "orderby", "skiptoken",
                   "deltatoken", "search", "skip", "format"}


def normalize_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query options keyed `$name` in lower case (Graph v1.0 also accepts them without `$`).

    A system query option given twice (`$top=1&$top=2`, or `$top` and `top`) is Graph's 400
    "Query option '$top' was specified more than once." (as Graph words it: msgraph-sdk-php #127).
    """
    out: dict[str, str] = {}
    for key, value in pairs:
        low = key.lower()
        if low.lstrip("$") in _SYSTEM_OPTIONS:
            low = "$" + low.lstrip("$")
            if low in out:
                raise bad_request(f"Query option '{low}' was specified more than once.",
                                  "BadRequest")
        else:
            low = key
        out[low] = value
    return out


def parse_query(raw: str) -> tuple[dict[str, str], GraphHttpError | None]:
    """(query options, refusal) of a raw query string: a refusal (too long, an option twice) is
    answered as Graph's 400 once the request is authenticated."""
    from tenantsync.emulator.limits import MAX_QUERY_CHARS

    text = unquote_plus(raw) if "%" in raw or "+" in raw else raw
    if len(text) > MAX_QUERY_CHARS:
        return {}, bad_request(f"Max query length exceeded: {len(text)} characters (the "
                               f"emulator accepts {MAX_QUERY_CHARS}).", "BadRequest")
    try:
        return normalize_query(parse_qsl(raw, keep_blank_values=True)), None
    except GraphHttpError as exc:
        return {}, exc


def now_iso() -> str:
    """UTC now as Graph writes timestamps (second precision, Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict:
    """Graph's error envelope."""
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": now_iso(), "request-id": request_id,
                                     "client-request-id": client_request_id}}}


def error_response(req: GraphRequest, status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> GraphResponse:
    """A Graph-shaped error response for `req`."""
    client_id = req.headers.get("client-request-id", req.request_id)
    return GraphResponse(status, error_body(code, message, req.request_id, client_id),
                         dict(headers or {}))


def encode_token(data: dict) -> str:
    """Opaque, URL-safe token (skiptoken, deltatoken) carrying `data`."""
    return base64.urlsafe_b64encode(dumps(data)).decode().rstrip("=")


def decode_token(token: str, *, kind: str = "page") -> dict:
    """Inverse of encode_token; a damaged token is a 400 like Graph's."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = loads(raw)
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, TypeError):
        raise bad_request(f"The {kind} token is not valid.",
                          "Directory_ExpiredPageToken" if kind == "page" else "Request_BadRequest") from None


def read_json_body(req: GraphRequest) -> dict:
    """The request body as a JSON object, or a 400 the way Graph answers bad payloads."""
    if not isinstance(req.body, dict):
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header "
                          "is set and payload is of valid JSON format.", "BadRequest")
    return req.body
