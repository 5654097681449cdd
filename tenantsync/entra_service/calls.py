"""The Graph calls a service procedure makes, written down as it makes them (or, in a dry run,
instead of making them): "METHOD /path {body}" with the secrets' values masked.

``CallLog`` stands in front of a GraphApi with the three methods SyncJobs uses; in a dry run its
writes are listed with "(not sent: dry run)" and answer nothing, its reads pass (the GraphApi
under it is read-only anyway, so a write that slipped past would still be refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ..graph.urls import relative

# Secret keys whose values are plain settings (cross-tenant-synchronization-configure-graph): shown.
# Every other key's value (a token, a password of another connector) is masked.
SHOWN_SECRETS = frozenset({"CompanyId", "AuthenticationType", "SyncAll", "SyncNotificationSettings"})
MASK = "***"
NOT_SENT = " (not sent: dry run)"
SHOWN_BODY = 600


def masked(body: Any) -> Any:
    """``body`` with the secret values masked: the {"key", "value"} pairs of a secrets PUT ("value")
    and of validateCredentials ("credentials"), unless the key is a plain setting."""
    if not isinstance(body, Mapping):
        return body
    out = dict(body)
    for name in ("value", "credentials"):
        items = out.get(name)
        if isinstance(items, list):
            out[name] = [{**p, "value": MASK} if isinstance(p, Mapping) and p.get("key") not in SHOWN_SECRETS
                         else p for p in items]
    return out


def describe(method: str, path: str, body: Any = None) -> str:
    """"METHOD /path {body}", a long body (a schema) cut at SHOWN_BODY characters."""
    shown = json.dumps(masked(body), ensure_ascii=False, separators=(",", ":")) if body else ""
    if len(shown) > SHOWN_BODY:
        shown = f"{shown[:SHOWN_BODY]}… ({len(shown):,} characters)"
    path = path.replace("%7B", "{").replace("%7D", "}")        # a dry run's {servicePrincipalId}
    return f"{method.upper()} {path}" + (f" {shown}" if shown else "")


class CallLog:
    """A GraphApi's request / get_json / iter_pages, each call listed in ``calls``."""

    def __init__(self, api: Any, *, send: bool = True) -> None:
        self.api, self.send = api, send
        self.calls: list[str] = []

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append(describe("GET", relative(path, params)))
        result: dict[str, Any] = self.api.get_json(path, params)
        return result

    def iter_pages(self, resource: str, select: Any = None, filter: str | None = None, top: int = 999,
                   count: bool = False, expand: str | None = None) -> Iterator[list[dict[str, Any]]]:
        self.calls.append(describe("GET", relative("/" + resource.strip("/"), {"$filter": filter, "$top": top})))
        yield from self.api.iter_pages(resource, select=select, filter=filter, top=top, count=count,
                                       expand=expand)

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any] | None:
        line = describe(method, path, body)
        if not self.send:
            self.calls.append(line + NOT_SENT)
            return None
        self.calls.append(line)
        result: dict[str, Any] | None = self.api.request(method, path, body)
        return result


__all__ = ["MASK", "NOT_SENT", "SHOWN_SECRETS", "CallLog", "describe", "masked"]
