"""Writes B2B users into a target tenant: invitation + one PATCH, updates, disables, deletes.

Invitations (Microsoft's invitation resource page): ``invitedUserType`` "By default, this is
Guest. You can invite as Member if you are a company administrator" -- an app-only caller is not,
so every user is invited as Guest and the PATCH that follows the invitation sets
``userType: Member`` when the mapping wants it: still two writes per new user. The same page lists
the characters an invited address may not contain (INVITE_FORBIDDEN_CHARACTERS). Such an address
is sent anyway and Graph's answer is reported for that user (its code and message, plus the
documented rule when the address holds one of those characters): Graph stays the judge of what
it accepts, and one refused user never stops the others.

Properties the user resource page says are not written through Graph (stages.writable) are left
out of the mappings by the cycle, which logs it once per cycle; a PATCH never carries them.

Manager (``expand_manager=True``): every read of target users asks ``$expand=manager($select=id)``
(user-list-manager: ``GET /users?$expand=manager``), so the current manager of each user comes
with the reads a cycle makes anyway; ``set_managers`` writes ``PUT /users/{id}/manager/$ref``
(user-post-manager) with the page's body, and ``current_managers`` reads
``GET /users/{id}/manager`` for the few users whose target was not read this cycle.

Every write outcome is kept (graph/batch.py: a failed $batch fails only its own items). An
invitation whose $batch answer was lost may have created the user: it is looked up by mail
(``refind``) and taken as created when found, never sent again blindly. A create whose follow-up
PATCH is refused for its values still gets its anchor (a PATCH of the anchor alone), so every
account tenantsync created is found again by anchor. After a 401/403 on a whole $batch nothing
more is sent and ``stopped`` holds the error.

Writes refused for a passing reason (429, 5xx, no answer) after the Graph connector's own per-item
retries are tried again within the same ``apply``, after their Retry-After (else a short backoff),
a bounded number of rounds (Microsoft's throttling page, "Best practices to handle throttling":
wait the number of seconds in Retry-After, then retry). Those still refused stay in ``transient``:
the cycle either records them as failures (escrowed, retried by a later cycle) or, when its caller
retries whole batches (a Prefect task), hands the batch back to be run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..errors import GraphError
from ..graph.api import GraphApi
from ..graph.batch import BatchIncomplete
from ..graph.urls import path, relative
from ..model import Action
from ..permissions import forbidden_hint
from ..ports import Refused
from ..references import EXPAND_MANAGER, manager_id
from ..stages.matching import TargetIndex, anchor_value, is_b2b
from ..stages.writable import NOT_WRITABLE
from .entra_source import odata_quote

INVITE_REDIRECT = "https://myapplications.microsoft.com"
FORBIDDEN_INVITES = ("Guest invitations not allowed for your company. Contact your company "
                     "administrator for more details.")
# invitation resource (current version), invitedUserEmailAddress: these special characters are
# not permitted in the email address (a period or hyphen is allowed except at either end of the
# user name, an underscore anywhere).
INVITE_FORBIDDEN_CHARACTERS = '~!#$%^&*()+=[]{}\\/|;:"<>?,'
INVITED_AS = "Guest"
# Graph's 403 for a missing permission (errors page / every API page's Permissions section).
INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."
# Answers that say nothing about the user: the same write may succeed a moment later.
IN_FILTER_MAX = 15
TRANSIENT_STATUSES = frozenset({0, 429, 500, 502, 503, 504})
ROUNDS = 2                 # extra rounds within apply for writes refused for a passing reason
FIRST_WAIT_S = 0.5         # without Retry-After: 0.5 s, then 1 s
MAX_WAIT_S = 30.0          # a longer Retry-After: the write waits for the next cycle instead


class EntraTarget:
    """The target side of a cross-tenant configuration, over one GraphApi (implements
    ports.TenantTarget). ``source_tenant`` gives each written user its anchor value."""

    def __init__(self, api: GraphApi, *, anchor_attribute: str, select: Sequence[str], source_tenant: str,
                 expand_manager: bool = False, on_invited: Callable[[list[Action]], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.api = api
        self.anchor_attribute = anchor_attribute
        self.source_tenant = source_tenant
        self.on_invited = on_invited        # told of invitations before their PATCH (apply)
        self.sleep = sleep
        self.mapped = tuple(dict.fromkeys(select))
        self.select = list(dict.fromkeys(["id", "userPrincipalName", "mail", "otherMails", "userType",
                                          "externalUserState", "accountEnabled", "displayName",
                                          anchor_attribute, *select]))
        self._domain: str | None = None
        self.expand = EXPAND_MANAGER if expand_manager else None
        self.transient: list[Refused] = []          # writes refused for a passing reason
        self.stopped: GraphError | None = None      # a 401/403 on a whole $batch: nothing more sent

    # -- reads ---------------------------------------------------------------------------------
    def initial_domain(self) -> str:
        """The tenant's *.onmicrosoft.com domain: B2B UPNs end with it."""
        if self._domain is None:
            domains = self.api.get_json("/domains").get("value", [])
            initial = [d["id"] for d in domains if d.get("isInitial")] or \
                      [d["id"] for d in domains if d["id"].endswith(".onmicrosoft.com")]
            self._domain = initial[0] if initial else domains[0]["id"]
        return self._domain

    def index_all(self) -> TargetIndex:
        """Every B2B user of the target plus its deleted items (initial cycles)."""
        # A generator: each page is folded into the index and dropped, never the whole tenant at once.
        users = (_slim(u) for page in self.api.iter_pages("users", select=self.select, expand=self.expand)
                 for u in page if is_b2b(u))
        deleted = (u for page in self.api.iter_pages("directory/deletedItems/microsoft.graph.user",
                                                     select=self.select) for u in page)
        return TargetIndex.build(users, self.anchor_attribute, deleted, digest_keys=self.mapped)

    def fetch(self, target_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Target users read again in full (one $batch item each): those whose digest differs."""
        ids = list(dict.fromkeys(target_ids))
        replies = self.api.batch([{"method": "GET", "url": self._user_url(t)} for t in ids])
        return {t: r["body"] for t, r in zip(ids, replies) if r["status"] == 200}

    def _user_url(self, target_id: str) -> str:
        return relative(path("users", target_id), {"$select": self.select, "$expand": self.expand})

    def lookup(self, linked_ids: Iterable[str], unlinked: Mapping[str, tuple[str, str | None]]) -> TargetIndex:
        """Just the target users an incremental cycle needs: cost grows with the changes.

        ``unlinked`` maps source id -> (anchor value, mail) for users without a link.
        """
        linked = list(dict.fromkeys(linked_ids))
        # Linked users by `id in (...)`, IN_FILTER_MAX ids per item (filter-query-parameter: the
        # `in` operator takes up to 15 expressions): 100 changed users are 7 items, one $batch.
        chunks = [linked[i:i + IN_FILTER_MAX] for i in range(0, len(linked), IN_FILTER_MAX)]
        reqs = [{"method": "GET", "url": relative("/users", {
            "$filter": f"id in ({','.join(odata_quote(t) for t in chunk)})",
            "$select": self.select, "$expand": self.expand})} for chunk in chunks]
        for anchor, mail in unlinked.values():
            clause = f"{self.anchor_attribute} eq {odata_quote(anchor)}"
            if mail:
                clause += f" or mail eq {odata_quote(mail)}"
            reqs.append({"method": "GET", "url": relative("/users", {"$filter": clause,
                                                                      "$select": self.select,
                                                                      "$expand": self.expand})})
        replies = self.api.batch(reqs)
        users: list[dict[str, Any]] = []
        missing: list[str] = []
        for i, r in enumerate(replies):
            if i < len(chunks):
                if r["status"] != 200:
                    continue            # not readable now: as before, the user is looked up next time
                found = r["body"].get("value", [])
                users.extend(found)
                present = {u.get("id") for u in found}
                missing.extend(t for t in chunks[i] if t not in present)   # deleted, or gone
            elif r["status"] == 200:
                users.extend(r["body"].get("value", []))
        deleted_replies = self.api.batch([{"method": "GET", "url": path("directory/deletedItems", t)}
                                          for t in missing])
        deleted = [r["body"] for r in deleted_replies if r["status"] == 200]
        return TargetIndex.build(users, self.anchor_attribute, deleted)

    # -- writes --------------------------------------------------------------------------------
    def apply(self, actions: Sequence[Action]) -> list[Action]:
        """Carry out writes; every action comes back with its status, error and target id.

        ``on_invited`` is called once invitations exist (before their PATCH) so the caller can
        record links first: a crash between the two never produces a duplicate. A create that
        already has its target id (invited earlier, its PATCH failed) is not invited again.
        Writes refused for a passing reason are tried again here (module docstring); those
        still refused are left in ``transient``.
        """
        self.stopped = None
        self._write(actions)
        self._retry_transient()
        return list(actions)

    def _retry_transient(self) -> None:
        """Send again, up to ROUNDS times, the writes refused for a passing reason; each goes
        back to its planned state (status, reason) first. Left in ``transient`` when still refused."""
        for n in range(ROUNDS):
            if not self.transient or self.stopped is not None:
                return
            waits = [r.retry_after for r in self.transient if r.retry_after is not None]
            wait = max(waits) if waits else FIRST_WAIT_S * 2 ** n
            if wait > MAX_WAIT_S:
                return
            self.sleep(wait)
            self._write([r.restore() for r in self.transient])

    def _write(self, actions: Sequence[Action]) -> None:
        """One round of writes: invitations, restores, PATCHes, deletes."""
        self.transient = []
        anchors = {a.source_id: anchor_value(self.source_tenant, a.source_id) for a in actions
                   if a.kind in ("create", "update") and a.status == "success"}
        creates = [a for a in actions if a.kind == "create" and a.status == "success"]
        self._invite([a for a in creates if not a.target_id])
        if self.on_invited:
            self.on_invited([a for a in creates if a.target_id])
        restores = [a for a in actions if a.restore and a.status == "success"]
        self._send(restores, lambda a: {"method": "POST",
                                        "url": path("directory/deletedItems", a.target_id or "") + "/restore"})
        for a in restores:
            if a.status == "success":
                a.restore = False        # done: a retry of this action only PATCHes
        patches = [a for a in actions if a.status == "success" and a.target_id and (
            a.kind in ("update", "disable") or a.kind == "create")]
        self._send(patches, lambda a: {"method": "PATCH", "url": path("users", a.target_id or ""),
                                       "body": self._patch_body(a, anchors)}, gone_ok=False)
        self._anchor_refused(creates, anchors)
        deletes = [a for a in actions if a.kind == "delete" and a.status == "success"]
        self._send(deletes, lambda a: {"method": "DELETE", "url": path("users", a.target_id or "")}, gone_ok=True)
        hard = [a for a in deletes if a.hard_delete and a.status == "success"]
        self._send(hard, lambda a: {"method": "DELETE", "url": path("directory/deletedItems", a.target_id or "")},
                   gone_ok=True)

    def _anchor_refused(self, creates: Sequence[Action], anchors: Mapping[str, str]) -> None:
        """Invited, but the PATCH was refused for its values: write the anchor alone, so the
        account is found by anchor whatever happens to its link (the next cycle retries the rest)."""
        refused = [a for a in creates if a.status == "failure" and a.target_id
                   and a.source_id in anchors and not any(r.action is a for r in self.transient)]
        if not refused or self.stopped is not None:
            return
        reqs = [{"method": "PATCH", "url": path("users", a.target_id or ""),
                 "headers": {"Content-Type": "application/json"},
                 "body": {self.anchor_attribute: anchors[a.source_id]}} for a in refused]
        self._batch(reqs)            # best effort: a failure here leaves the link pending

    def _batch(self, reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """api.batch, keeping the answers of a call that failed part-way (graph/batch.py)."""
        if self.stopped is not None:      # after a 401/403 nothing more is sent
            stop = self.stopped
            return [{"status": stop.status, "headers": {}, "not_sent": True,
                     "body": {"error": {"code": stop.code, "message": stop.message}}} for _ in reqs]
        try:
            return self.api.batch(reqs)
        except BatchIncomplete as exc:
            if exc.stops_job:
                self.stopped = exc
            return exc.results

    def _patch_body(self, a: Action, anchors: Mapping[str, str]) -> dict[str, Any]:
        # A create's changes hold every mapped value, userType too: invited as Guest (module
        # docstring), the user becomes a Member here when the mapping says so.
        body = {k: c.new for k, c in a.changes.items() if k not in NOT_WRITABLE}
        if a.kind == "create" or a.source_id in anchors:
            body[self.anchor_attribute] = anchors.get(a.source_id)
        return body

    # -- the manager reference (references.py) -------------------------------------------------
    def set_managers(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """PUT /users/{id}/manager/$ref per (target user, target manager): one reply each."""
        root = self.api.connection.base_url
        return self.api.batch([{"method": "PUT", "url": path("users", tid) + "/manager/$ref",
                                "headers": {"Content-Type": "application/json"},
                                "body": {"@odata.id": f"{root}{path('users', mid)}"}} for tid, mid in pairs])

    def current_managers(self, target_ids: Iterable[str]) -> dict[str, str | None]:
        """The manager id of each target user (None: no manager, 404); unreadable ones left out."""
        ids = list(dict.fromkeys(target_ids))
        replies = self.api.batch([{"method": "GET", "url": relative(path("users", t) + "/manager",
                                                                   {"$select": "id"})} for t in ids])
        return {t: (r["body"] or {}).get("id") if r["status"] == 200 else None
                for t, r in zip(ids, replies) if r["status"] in (200, 404)}

    def _invite(self, creates: list[Action]) -> None:
        reqs = [{"method": "POST", "url": "/invitations", "headers": {"Content-Type": "application/json"},
                 "body": {"invitedUserEmailAddress": a.invite_email, "inviteRedirectUrl": INVITE_REDIRECT,
                          "sendInvitationMessage": False, "invitedUserType": INVITED_AS,
                          "invitedUserDisplayName": _display_name(a)}} for a in creates]
        unknown: list[tuple[Action, dict[str, Any], dict[str, Any]]] = []
        for a, req, r in zip(creates, reqs, self._batch(reqs)):
            if r["status"] in (200, 201):
                a.target_id = (r["body"].get("invitedUser") or {}).get("id")
            elif r.get("unknown"):
                unknown.append((a, req, r))
            else:
                self._failed(a, r, req, invitation=True)
        if unknown:
            found = self.refind([a.invite_email or "" for a, _, _ in unknown])
            for a, req, r in unknown:
                a.target_id = found.get((a.invite_email or "").lower())
                if not a.target_id:          # not created: invited again on the retry
                    self._failed(a, r, req, invitation=True)

    def refind(self, emails: Sequence[str]) -> dict[str, str]:
        """lowercased address -> id of the B2B user invited with it (mail, as the invitation
        sets it): an invitation whose answer was lost is looked up before it is sent again."""
        wanted = [e for e in dict.fromkeys(emails) if e]
        reqs = [{"method": "GET", "url": relative("/users", {"$filter": f"mail eq {odata_quote(e)}",
                                                              "$select": ["id", "mail", "userPrincipalName",
                                                                          "userType", "creationType"]})}
                for e in wanted]
        out: dict[str, str] = {}
        for e, r in zip(wanted, self._batch(reqs)):
            if r["status"] == 200:
                hits = [u for u in (r["body"] or {}).get("value", []) if is_b2b(u)]
                if hits:
                    out[e.lower()] = hits[0]["id"]
        return out

    def _send(self, actions: list[Action], build: Callable[[Action], dict[str, Any]], *,
              gone_ok: bool = False) -> None:
        reqs = []
        for a in actions:
            req = build(a)
            if "body" in req:
                req["headers"] = {"Content-Type": "application/json"}
            reqs.append(req)
        for a, req, r in zip(actions, reqs, self._batch(reqs)):
            if r["status"] < 300 and not r.get("unknown") and not r.get("not_sent") \
                    or (gone_ok and r["status"] == 404):
                continue            # an object already gone counts as done
            self._failed(a, r, req)

    def _failed(self, a: Action, reply: Mapping[str, Any], request: Mapping[str, Any], *,
                invitation: bool = False) -> None:
        before = a.reason
        _fail(a, reply, request, invitation=invitation)
        if reply["status"] in TRANSIENT_STATUSES and not reply.get("not_sent"):
            self.transient.append(Refused(a, before, reply.get("retry_after") or _retry_after(reply),
                                          int(reply["status"])))


def _display_name(a: Action) -> str:
    change = a.changes.get("displayName")
    return change.new if change is not None else a.display_name


def _slim(user: dict[str, Any]) -> dict[str, Any]:
    """The expanded manager as its id only: the index of a large tenant keeps one per user."""
    if "manager" in user:
        user["manager"] = manager_id(user["manager"])
    return user


def _fail(a: Action, reply: Mapping[str, Any], request: Mapping[str, Any], *,
          invitation: bool = False) -> None:
    err = ((reply.get("body") or {}).get("error") or {})
    code, message = err.get("code") or f"HTTP{reply['status']}", err.get("message") or ""
    if reply["status"] == 403 and message.startswith(INSUFFICIENT_PRIVILEGES):
        # A permission the token lacks (opaque tokens are not checked before the cycle): name it.
        hint = forbidden_hint(request["method"], request["url"], "target")
        message = f"{message} {hint}".strip()
    elif invitation and reply["status"] == 403:
        code, message = "AzureActiveDirectoryForbidden", FORBIDDEN_INVITES
    elif invitation and reply["status"] == 400:
        refused = forbidden_characters(a.invite_email or "")
        if refused:
            message = (f"{message} The invitation of {a.invite_email!r} was refused: the invitation "
                       f"resource page does not permit {' '.join(refused)} in an invited email "
                       "address.").strip()
    a.status, a.error_code = "failure", code
    a.reason = f"{a.reason} Failed: {message}".strip()


def _retry_after(reply: Mapping[str, Any]) -> float | None:
    for key, value in (reply.get("headers") or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def forbidden_characters(address: str) -> list[str]:
    """The characters of ``address`` that the invitation resource page does not permit."""
    return [c for c in dict.fromkeys(address) if c in INVITE_FORBIDDEN_CHARACTERS]
