"""Reads a source tenant: users (full or delta), direct members of assigned groups, SMS sign-in state.

Group membership comes from groups/delta with ``$select=id,displayName,members`` (members arrive
as ``members@delta``; the delta-query-overview page says ``$expand`` is not supported on delta).
Up to MAX_FILTER_IDS assigned groups are named in ``$filter=id eq '..' or ..``; with more, the
round is unfiltered and the groups that are not assigned are dropped as they arrive.

Manager (``manager=True``, when the mappings hold the manager): users/delta is asked with
``manager`` in ``$select`` (delta-query-overview: "$select also supports manager ... Selecting
those properties allows tracking of changes to user's manager"), so the manager costs no request
of its own; a provisioned-on-demand user is read with ``$expand=manager($select=id)``
(user-list-manager). Either way a user carries ``manager``: {"id": ...} or None
(references.manager_from_delta / manager_from_expand); a delta item without ``manager@delta``
leaves it out (unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import GraphError
from ..graph.api import GraphApi
from ..graph.errors import from_response
from ..graph.urls import path, relative
from ..ports import MembershipRead, SmsRead
from ..references import EXPAND_MANAGER, manager_from_delta, manager_from_expand

MOBILE_METHOD_ID = "3179e48a-750b-4051-897c-87b9720928f7"
# smsauthenticationmethodconfiguration-get (Policy.Read.All or Policy.ReadWrite.AuthenticationMethod)
SMS_POLICY = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms"
# group-delta, $filter: "There is a limit of 50 filtered objects."
MAX_FILTER_IDS = 50


def odata_quote(value: str) -> str:
    """The one place user data enters an OData string literal: a quote doubles."""
    return "'" + value.replace("'", "''") + "'"


class EntraSource:
    """The source side of a cross-tenant configuration, over one GraphApi (implements ports.Source)."""

    def __init__(self, api: GraphApi, select: Sequence[str], *, manager: bool = False):
        self.api = api
        self.select = list(dict.fromkeys(["id", *select]))
        self.manager = manager
        self._sms_allowed: bool | None = None      # the SMS policy, read once (a cycle builds its source)

    def user_pages(self, link: str | None) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of users from /users/delta: the whole tenant first, then only changes.

        Yields (page, delta_link); delta_link is set on the last page only. The first page is
        read at once, so an expired ``link`` raises its GraphError (kind RESYNC) here, before
        anything is planned.
        """
        rnd = self.api.delta("users", select=self.select + ["manager"] if self.manager else self.select,
                             link=link)
        pages = rnd.pages() if not self.manager else (manager_from_delta(p) for p in rnd.pages())
        first = next(pages, [])
        return self._lagged(first, pages, rnd)

    @staticmethod
    def _lagged(first: list[dict[str, Any]], pages: Iterator[list[dict[str, Any]]], rnd: Any
                ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        previous = first
        for page in pages:
            yield previous, None
            previous = page
        yield previous, rnd.delta_link

    def memberships(self, group_ids: Sequence[str], link: str | None) -> MembershipRead:
        """Direct user members of the assigned groups; nested groups never cascade."""
        if not group_ids:
            return MembershipRead(full={} if link is None else None)
        flt = None
        if link is None and len(set(group_ids)) <= MAX_FILTER_IDS:
            flt = " or ".join(f"id eq {odata_quote(g)}" for g in dict.fromkeys(group_ids))
        rnd = self.api.delta("groups", select=["id", "displayName"], members=True,
                             filter=flt, link=link)
        wanted = set(group_ids)
        out = MembershipRead(full={g: set() for g in group_ids} if link is None else None)
        for page in rnd.pages():
            for group in page:
                gid = group.get("id")
                if gid not in wanted:
                    continue
                for m in group.get("members@delta", []) or []:
                    if "group" in (m.get("@odata.type") or "").lower():
                        continue
                    removed = "@removed" in m
                    if out.full is not None:
                        (out.full[gid].discard if removed else out.full[gid].add)(m["id"])
                    elif removed:
                        out.removed.append((gid, m["id"]))
                    else:
                        out.added.append((gid, m["id"]))
        out.delta_link = rnd.delta_link
        return out

    def get_users(self, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Current state of a few users (one $batch item each); None when not found."""
        ids = list(dict.fromkeys(ids))
        expand = EXPAND_MANAGER if self.manager else None
        replies = self.api.batch([{"method": "GET", "url": relative(path("users", i), {
            "$select": self.select, "$expand": expand})} for i in ids])
        return {i: (manager_from_expand(r["body"]) if expand else r["body"]) if r["status"] == 200 else None
                for i, r in zip(ids, replies)}

    def member_of(self, ids: Iterable[str]) -> dict[str, set[str]]:
        """The groups each user is a direct member of (on-demand scoping of a few users)."""
        ids = list(dict.fromkeys(ids))
        replies = self.api.batch([{"method": "GET", "url": relative(path("users", i, "memberOf"),
                                                                    {"$select": "id", "$top": 999})}
                                  for i in ids])
        return {i: {g["id"] for g in (r.get("body") or {}).get("value", []) if "group" in
                    (g.get("@odata.type") or "#microsoft.graph.group").lower()}
                for i, r in zip(ids, replies) if r["status"] == 200}

    def sms_sign_in(self, ids: Iterable[str]) -> SmsRead:
        """Which users' mobile phone method has SMS sign-in ``ready`` (one $batch item each).

        A read that fails (403 without UserAuthenticationMethod.Read.All, a 5xx or 429 still failing
        after the batch's retries, a 404) is reported as failed, never as "not ready": a user is not
        written without knowing (tenantsync/sms.py). No user is read when the tenant's SMS
        policy lets nobody sign in with SMS (``sms_sign_in_allowed``).
        """
        ids = list(dict.fromkeys(ids))
        if not ids or not self.sms_sign_in_allowed():
            return SmsRead()
        replies = self.api.batch([{"method": "GET", "url": path("users", i, "authentication", "phoneMethods")}
                                  for i in ids])
        out = SmsRead()
        for i, r in zip(ids, replies):
            if r["status"] != 200:
                out.failed[i] = from_response(r["status"], r.get("headers"), r.get("body"))
                continue
            for method in (r.get("body") or {}).get("value", []):
                if method.get("id") == MOBILE_METHOD_ID and method.get("smsSignInState") == "ready":
                    out.ready.add(i)
        return out

    def sms_sign_in_allowed(self) -> bool:
        """Whether the tenant's SMS authentication method policy lets anyone sign in with SMS.

        One GET of the smsAuthenticationMethodConfiguration (smsauthenticationmethodconfiguration-get):
        when its ``state`` is ``disabled``, or none of its ``includeTargets`` is ``isUsableForSignIn``
        (smsauthenticationmethodtarget), no user's SMS sign-in can be ``ready`` (the phone method's
        smsSignInState is then ``notAllowedByPolicy``), so no phone methods need reading. Read once
        per source object (a cycle builds its own). A policy that cannot be read (403 without
        Policy.Read.All, any error) counts as allowing it: the users are then read one by one.
        """
        if self._sms_allowed is None:
            try:
                body = self.api.get_json(SMS_POLICY)
            except GraphError:
                self._sms_allowed = True
            else:
                # the page's example wraps the configuration in "value"; the resource is the object itself
                conf = body["value"] if isinstance(body.get("value"), dict) else body
                self._sms_allowed = conf.get("state") != "disabled" and any(
                    t.get("isUsableForSignIn") is not False for t in conf.get("includeTargets") or [])
        return self._sms_allowed


__all__ = ["MAX_FILTER_IDS", "MOBILE_METHOD_ID", "EntraSource", "MembershipRead", "SmsRead", "odata_quote"]
