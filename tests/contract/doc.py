"""Small helpers shared by the contract modules: cases named after their doc page, raw HTTP,
and the shapes every Graph page documents (error envelope, @odata.context, paging)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.contract.world import ALL_TOKEN


@dataclass(frozen=True)
class Case:
    """One documented request and what its page says comes back."""

    page: str                                   # doc page name, e.g. "user-list"
    name: str                                   # what the case shows, e.g. "200-default-set"
    method: str = "GET"
    path: str = "/"
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    status: int = 200
    check: Callable[[httpx.Response], None] | None = None
    token: str = ALL_TOKEN

    @property
    def id(self) -> str:
        return f"{self.page}:{self.name}"


def cases(*items: Case):
    """parametrize('case', ...) with each case's id `page:name`, so failures name the page."""
    return pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in items])


def page(name: str, what: str):
    """Name a scenario test after its page: the test's id becomes `name:what`."""
    return pytest.mark.parametrize("doc_page", [pytest.param(name, id=f"{name}:{what}")])


def send(client: httpx.Client, case: Case) -> httpx.Response:
    """Send a Case with its token; asserts the documented status (with the body on failure)."""
    headers = {"Authorization": f"Bearer {case.token}", **case.headers}
    kwargs: dict[str, Any] = {"params": case.params, "headers": headers}
    if case.body is not None:
        kwargs["json"] = case.body
    resp = client.request(case.method, case.path, **kwargs)
    assert resp.status_code == case.status, \
        f"{case.id}: expected {case.status}, got {resp.status_code}: {resp.text[:500]}"
    if case.check is not None:
        case.check(resp)
    return resp


def expect(resp: httpx.Response, status: int) -> dict:
    """Assert the status; the JSON body (or {} when there is none)."""
    assert resp.status_code == status, \
        f"{resp.request.method} {resp.request.url}: expected {status}, got " \
        f"{resp.status_code}: {resp.text[:500]}"
    return resp.json() if resp.content else {}


def error_of(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    """errors: the single `error` object with code, message and innerError (date, request id)."""
    body = expect(resp, status)
    assert set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], err
    assert isinstance(err.get("message"), str), err
    inner = err.get("innerError")
    assert isinstance(inner, dict) and "date" in inner, err
    assert "request-id" in inner or "requestId" in inner, err
    if code is not None:
        assert err["code"] == code, err
    return err


def context_is(body: dict, fragment: str) -> None:
    """@odata.context is `<root>/$metadata#<fragment>` (the root is the emulator's own URL)."""
    ctx = body.get("@odata.context", "")
    assert ctx.endswith("/$metadata#" + fragment), ctx


def follow(client: httpx.Client, first: httpx.Response, token: str = ALL_TOKEN,
           headers: dict[str, str] | None = None) -> Iterator[dict]:
    """paging: every page of a collection, following @odata.nextLink as given."""
    body = expect(first, 200)
    yield body
    while "@odata.nextLink" in body:
        nxt = client.get(body["@odata.nextLink"],
                         headers={"Authorization": f"Bearer {token}", **(headers or {})})
        body = expect(nxt, 200)
        yield body


def auth(token: str = ALL_TOKEN, **headers: str) -> dict[str, str]:
    """Request headers with the bearer token."""
    return {"Authorization": f"Bearer {token}", **headers}
