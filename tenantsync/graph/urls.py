"""Relative Graph URLs built by hand ($batch items, small reads): every value percent-encoded.

Why: a $batch item's ``url`` is a plain string that Graph parses as a URL. A query value holding
``+`` reads back as a space, ``&`` starts a new parameter and ``#`` starts a fragment, so a
``$filter`` on ``o'brien+test@example.com`` silently asks for something else. Microsoft's page "Use query
parameters to customize responses" (Encoding query parameters): "The values of query parameters
should be percent-encoded as per RFC 3986 ... all reserved characters in query strings must be
percent-encoded". B2B user principal names hold ``#EXT#`` and must be encoded wherever they
appear in a path or a query.

Rules kept here and nowhere else:
- ``segment(value)`` encodes one path segment (an id or a userPrincipalName): everything but
  RFC 3986 unreserved characters, ``@`` and ``'`` becomes %XX (``#`` -> %23, ``+`` -> %2B, ``/``
  -> %2F).
- ``relative(path, query)`` appends ``?$name=value&...``; names keep their ``$`` (the form every
  Graph page shows); in values every reserved character is encoded except ``' ( )``, which the
  page's own encoded example keeps (``startswith(givenName%2C+'J')``). A space becomes %20, never
  ``+`` (which a server may read either way).
- An OData string literal is still quoted by ``connectors.entra_source.odata_quote`` (a quote
  doubles); this module only encodes what that function produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote

_SEGMENT_SAFE = "@'"
_VALUE_SAFE = "'()"


def segment(value: str) -> str:
    """One path segment, e.g. a userPrincipalName: ``a_b#EXT#@t`` -> ``a_b%23EXT%23@t``."""
    return quote(str(value), safe=_SEGMENT_SAFE)


def path(*parts: str) -> str:
    """``path("users", upn, "memberOf")`` -> ``/users/<encoded upn>/memberOf``.

    The first part is the fixed route (left as written, e.g. "directory/deletedItems"); every
    further part is data and is encoded as one segment.
    """
    if not parts:
        return "/"
    head, *rest = parts
    return "/" + "/".join([str(head).strip("/"), *(segment(p) for p in rest)])


def query_value(value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif not isinstance(value, str) and isinstance(value, Iterable):
        value = ",".join(str(v) for v in value)
    return quote(str(value), safe=_VALUE_SAFE)


def relative(route: str, query: Mapping[str, object] | None = None) -> str:
    """A relative URL with an encoded query: ``relative("/users", {"$filter": f, "$select": s})``.

    ``route`` is a path made with ``path()`` (or a fixed route); None values are left out.
    """
    items = [(k, v) for k, v in (query or {}).items() if v is not None]
    if not items:
        return route
    encoded = "&".join(f"{quote(str(k), safe='$')}={query_value(v)}" for k, v in items)
    return f"{route}{'&' if '?' in route else '?'}{encoded}"


__all__ = ["path", "query_value", "relative", "segment"]
