"""The peer: the synchronisation an administrator writes by following Microsoft's msgraph-sdk samples.

    python -m bench.baseline JOB.json RESULT.json      # one pass, in this (fresh) process

This is what tenantsync is measured against (bench/baseline_report.py runs it inside ``make
bench``, on the same generated tenant, emulator and ``graph`` throttle profile as the engine). It
does the same job as the engine's default configuration, the way Microsoft's samples show it:

- ``GraphServiceClient(credentials, scopes)``: the SDK's default middleware, so kiota's
  RetryHandler retries 429/503/504 up to 3 times and honours ``Retry-After``
  (docs/graph-sdk-notes.md#errors-and-the-retry-handler). The credential is a static bearer token
  and ``request_adapter.base_url`` is the emulator's URL
  (docs/graph-sdk-notes.md#pointing-the-client-at-an-emulator); nothing else differs from a
  client built with ``ClientSecretCredential`` for a real tenant.
- Typed models throughout: ``client.users.get()`` with ``$select`` of the mapped attributes and
  ``$top=999``, then msgraph-core's ``PageIterator`` over the pages; ``Invitation`` and ``User``
  bodies.
- In scope: the source's enabled internal members (userType Member, no ``#EXT#`` UPN), the users
  the engine's ``scope: all`` creates (disabled users are not provisioned).
- Per user in scope without an account in the target: one ``client.invitations.post(Invitation(...))``
  (Guest, no e-mail, like the engine) and one ``client.users.by_user_id(id).patch(User(...))`` that
  sets the mapped attributes (MAPPED: the direct mappings of data/default_mappings.yaml), userType
  Member and the anchor extension (``<source tenant id>/<source user id>``, the value the engine
  writes). The invitation already gives the B2B UPN the engine's mapping computes
  (alias_domain#EXT#@target), so the UPN is not PATCHed. Null source values are left out, as the
  engine does on create.
- Per user that has one (matched by the anchor): compare attribute by attribute and PATCH only the
  attributes that differ, nothing when none does. **The target is read with one listing**
  (``client.users.get()`` + ``PageIterator``, ``$select`` of the mapped attributes and the anchor,
  indexed by anchor) rather than one ``GET /users/{id}`` per user: the cheaper of the two
  straightforward ways, so the peer is not made slower than an administrator would write it.
  A value emptied in the source is not cleared in the target (the SDK's models do not serialise
  ``None``: clearing needs a raw request), a simplification that costs the peer nothing here.
- Modest concurrency: every user's work runs under an ``asyncio.Semaphore(CONCURRENCY)``, all users
  gathered at once (``asyncio.gather``). A user whose request still fails after the RetryHandler's
  retries is counted as a failure and left for the next run (the error is kept in the result).

The same program serves both passes: the initial cycle (empty target: every user invited and
PATCHed) and the restart in step (target already in step: two listings, no writes). A job is::

    {"url": "http://127.0.0.1:PORT/v1.0", "source_token": ..., "target_token": ...,
     "source_tenant": "<source tenant id>", "anchor_attribute": "extension_..._tenantsyncSourceAnchor",
     "label": "initial" | "restart", "concurrency": 4}

The result holds the pass's wall and process CPU seconds (the SDK's lazy imports of its ~1,250
model modules are paid before the clock starts, as the engine's imports are), when the first write
was sent and the last answered (seconds from the start: the write phase), the counts, a sample of
failures, the RSS before the pass and the peak RSS (VmHWM) of this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
INVITE_REDIRECT = "https://myapplications.microsoft.com"
CONCURRENCY = 4
PAGE_SIZE = 999
# The direct mappings of data/default_mappings.yaml: Graph name -> msgraph-sdk model attribute.
MAPPED: dict[str, str] = {
    "accountEnabled": "account_enabled", "streetAddress": "street_address", "city": "city",
    "state": "state", "postalCode": "postal_code", "country": "country", "department": "department",
    "employeeId": "employee_id", "displayName": "display_name", "givenName": "given_name",
    "surname": "surname", "jobTitle": "job_title", "companyName": "company_name",
    "officeLocation": "office_location", "usageLocation": "usage_location",
    "mobilePhone": "mobile_phone", "mail": "mail", "mailNickname": "mail_nickname",
    "preferredLanguage": "preferred_language",
}
SOURCE_SELECT = ["id", "userPrincipalName", "userType", *MAPPED]


class StaticTokenCredential:
    """An azure.core TokenCredential answering the emulator's bearer token (instead of
    ClientSecretCredential: never a real Microsoft endpoint)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken
        return AccessToken(self._token, int(time.time()) + 3600)


def make_client(url: str, token: str) -> Any:
    """``GraphServiceClient(credentials, scopes)`` as the samples build it, on the emulator's URL."""
    from msgraph import GraphServiceClient
    client = GraphServiceClient(credentials=StaticTokenCredential(token), scopes=GRAPH_SCOPES)
    client.request_adapter.base_url = url.rstrip("/")
    return client


async def list_users(client: Any, select: list[str]) -> list[Any]:
    """Every user of the tenant as typed ``User`` models: ``users.get()`` then ``PageIterator``."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder
    from msgraph_core.tasks.page_iterator import PageIterator

    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(select=select, top=PAGE_SIZE)
    page = await client.users.get(request_configuration=RequestConfiguration(query_parameters=query))
    users: list[Any] = []
    if page is None or not page.value:
        return users

    def keep(user: Any) -> bool:
        users.append(user)
        return True             # PageIterator stops at the first falsy answer

    await PageIterator(page, client.request_adapter).iterate(keep)
    return users


def in_scope(user: Any) -> bool:
    """Enabled internal members: what the engine's ``scope: all`` provisions."""
    upn = user.user_principal_name or ""
    return bool(user.account_enabled) and (user.user_type or "Member") == "Member" and "#EXT#" not in upn


@dataclass
class Pass:
    """One run of the program: counts and timestamps (seconds from ``t0``)."""

    t0: float
    invited: int = 0
    patched: int = 0
    unchanged: int = 0
    failures: int = 0
    writes_sent: int = 0
    first_write: float | None = None
    last_write: float | None = None
    errors: list[str] = field(default_factory=list)

    async def write(self, request: Any) -> Any:
        """Await one write (a coroutine of the SDK), noting when the write phase starts and ends."""
        now = time.perf_counter() - self.t0
        if self.first_write is None:
            self.first_write = now
        self.writes_sent += 1
        try:
            return await request
        finally:
            self.last_write = time.perf_counter() - self.t0


async def sync(job: dict[str, Any], run: Pass) -> dict[str, Any]:
    """The administrator's program: read both tenants, invite who is missing, PATCH what differs."""
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.invitation import Invitation
    from msgraph.generated.models.user import User

    anchor = job["anchor_attribute"]
    source = make_client(job["url"], job["source_token"])
    target = make_client(job["url"], job["target_token"])
    t = time.perf_counter()
    source_users = await list_users(source, SOURCE_SELECT)
    existing: dict[str, Any] = {}
    for u in await list_users(target, ["id", *MAPPED, anchor]):
        key = (u.additional_data or {}).get(anchor)
        if key:
            existing[key] = u
    read_s = time.perf_counter() - t
    todo = [u for u in source_users if in_scope(u)]
    sem = asyncio.Semaphore(int(job.get("concurrency") or CONCURRENCY))

    async def one(src: Any) -> None:
        key = f"{job['source_tenant']}/{src.id}"
        async with sem:
            try:
                current = existing.get(key)
                if current is None:
                    invitation = await run.write(target.invitations.post(Invitation(
                        invited_user_email_address=src.mail or src.user_principal_name,
                        invite_redirect_url=INVITE_REDIRECT, send_invitation_message=False,
                        invited_user_display_name=src.display_name, invited_user_type="Guest")))
                    values = {py: getattr(src, py) for py in MAPPED.values() if getattr(src, py) is not None}
                    await run.write(target.users.by_user_id(invitation.invited_user.id).patch(
                        User(**values, user_type="Member", additional_data={anchor: key})))
                    run.invited += 1
                    return
                changed = {py: getattr(src, py) for py in MAPPED.values()
                           if getattr(src, py) is not None and getattr(src, py) != getattr(current, py)}
                if not changed:
                    run.unchanged += 1
                    return
                await run.write(target.users.by_user_id(current.id).patch(User(**changed)))
                run.patched += 1
            except APIError as exc:
                run.failures += 1
                if len(run.errors) < 5:
                    run.errors.append(f"{src.id}: {exc.response_status_code} {str(exc)[:200]}")

    await asyncio.gather(*(one(u) for u in todo))
    return {"source_users": len(source_users), "in_scope": len(todo), "target_accounts": len(existing),
            "read_s": round(read_s, 3)}


def _warm_up() -> None:
    """Pay the SDK's one-off costs before the clock starts: its imports and the lazy import of the
    model modules on the first typed parse (docs/graph-sdk-notes.md#typed-models-are-slow)."""
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.invitation import Invitation
    from msgraph.generated.models.user import User
    from msgraph.generated.models.user_collection_response import UserCollectionResponse

    body = json.dumps({"value": [{"id": "0", "displayName": "warm-up", "accountEnabled": True}],
                       "@odata.nextLink": None}).encode()
    node = JsonParseNodeFactory().get_root_parse_node("application/json", body)
    node.get_object_value(UserCollectionResponse)
    client = make_client("http://127.0.0.1:1/v1.0", "warm-up")
    client.invitations.to_post_request_information(Invitation(invited_user_email_address="a@b.c"))
    client.users.by_user_id("0").to_patch_request_information(User(display_name="warm-up"))


def _status_kb(field_name: str) -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One pass in this process; see the module doc for the job and the result."""
    t_setup = time.perf_counter()
    _warm_up()
    setup_s = time.perf_counter() - t_setup
    rss_before = _status_kb("VmRSS")
    cpu0, t0 = time.process_time(), time.perf_counter()
    run = Pass(t0=t0)
    sizes = asyncio.run(sync(job, run))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {"label": job.get("label"), "wall_s": round(wall, 4), "cpu_s": round(cpu, 4), **sizes,
            "invited": run.invited, "patched": run.patched, "unchanged": run.unchanged,
            "failures": run.failures, "errors_sample": run.errors, "writes_sent": run.writes_sent,
            "write_first_rel_s": None if run.first_write is None else round(run.first_write, 4),
            "write_last_rel_s": None if run.last_write is None else round(run.last_write, 4),
            "setup_s": round(setup_s, 3), "rss_before_mb": round(rss_before, 1),
            "peak_rss_mb": round(_status_kb("VmHWM"), 1), "pid": os.getpid(),
            "concurrency": int(job.get("concurrency") or CONCURRENCY)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m bench.baseline JOB.json RESULT.json", file=sys.stderr)
        return 2
    result = run_job(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    Path(argv[1]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
