"""GET /users/delta and /groups/delta ("user: delta", "group: delta"), held to Microsoft's Graph v1.0 pages.

A round starts without a token: query options ($select, $filter=id eq .. or .., $top or
`Prefer: odata.maxpagesize`) are read once and carried in the tokens. The first round pages
through every live object and ends with a deltaLink holding the tenant's sequence number at its
start (so nothing changed during the paging is lost: it comes again next round). A later round
walks the change log from that sequence (bisect, never a scan of the tenant) and reports each
changed object once, at its last change:
- created, restored or changed (in a tracked property) -> the object with its selected properties;
- soft-deleted user -> {"id", "@removed": {"reason": "changed"}};
- hard-deleted user, deleted group -> {"id", "@removed": {"reason": "deleted"}};
- group whose members changed -> the group with its selected properties and "members@delta":
  [...] where a removed member carries "@removed": {"reason": "deleted"} (delta-query-groups).

Membership (group-delta, delta-query-groups): `$select=...,members` tracks members, and so does a
request without $select (members@delta "by default, when the $select query parameter hasn't been
specified"); a group without members carries no members@delta. A soft-deleted user keeps its
memberships (delta-query-groups: it "won't appear in the delta result until permanently
deleted"), so only its permanent deletion is reported as a removed member. In a first round a
large group's members come in chunks of MEMBERS_PER_PAGE, the group repeated on the next page
with the next chunk (clients merge, as with Graph).

Manager (delta-query-overview: "`$select` also supports **manager** ... Selecting those properties
allows tracking of changes to user's manager"; relationships come as `propertyName@delta`
annotations, in the first round too): users/delta tracks the manager with `$select=...,manager`
and without $select; each user with a manager carries `manager@delta` in the first round, and a
later round reports a user whose manager changed (only) with it (manager.py gives the shape).

Refused: `$expand` (delta-query-overview: "$expand is not supported" for users and groups; the
docs do not say what Graph answers, so the emulator deliberately refuses with a 400 instead of
guessing), and a `$filter` naming more than MAX_FILTER_IDS objects (user-delta, group-delta:
"There is a limit of 50 filtered objects").

State tokens are invalid (410 Gone, with a Location header holding the initial request with an
empty $deltatoken, delta-query-overview "Synchronization reset") when:
- the emulator was reset since they were issued: code resyncRequired;
- they are older than the emulator's delta_token_ttl, or were issued before the last
  expire_delta_tokens(): code syncStateNotFound (delta-query-overview "Token duration"; errors:
  "The sync state generation is not found. The delta token is expired and data must be
  synchronized again."). Directory delta tokens live seven days on Graph; the emulator's default
  TTL is unlimited. Every nextLink and deltaLink expires on its own issue time.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right

from tenantsync.emulator import manager
from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.listing import context_name
from tenantsync.emulator.odata import ODataError, parse_filter, parse_select, parse_top, project
from tenantsync.emulator.protocol import (
    GraphHttpError,
    GraphRequest,
    GraphResponse,
    bad_request,
    decode_token,
    encode_token,
)
from tenantsync.emulator.schema import GROUP_DEFAULT, GROUPS, USER_DEFAULT, USERS

DEFAULT_PAGE = 200
MAX_PAGE = 999
MEMBERS_PER_PAGE = 1000
MAX_FILTER_IDS = 50          # user-delta, group-delta: "There is a limit of 50 filtered objects."
STRICTER = "The tenantsync emulator refuses this deliberately: "
clock = time.time            # issue and expiry times of state tokens (tests may replace it)
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


def users_delta(req: GraphRequest) -> GraphResponse:
    """GET /users/delta."""
    return _delta(req, "users")


def groups_delta(req: GraphRequest) -> GraphResponse:
    """GET /groups/delta."""
    return _delta(req, "groups")


def _split_members(text: str | None, resource: str) -> tuple[str | None, bool]:
    """($select without `members`, members asked for) - group-delta: `$select=members`."""
    if text is None or resource != "groups":
        return text, False
    names = [n.strip() for n in text.split(",") if n.strip()]
    rest = [n for n in names if n.lower() != "members"]
    return ",".join(rest), len(rest) != len(names)


def _first_request_state(req: GraphRequest, resource: str) -> dict:
    q = req.query
    props = req.home_tenant.user_props if resource == "users" else req.home_tenant.group_props
    if "$expand" in q:
        # delta-query-overview: for users and groups "$expand is not supported".
        raise ODataError(
            f"$expand is not supported on {resource}/delta (delta-query-overview); ask for "
            + ("membership with $select=...,members (group-delta). " if resource == "groups"
               else "the properties with $select. ")
            + STRICTER + "Microsoft's documentation does not say what Graph answers.",
            "Request_UnsupportedQuery")
    text, members = _split_members(q.get("$select"), resource)
    managers = False
    if resource == "users":
        text, managers = manager.split_select(text)
    select = parse_select(text, props)
    if text is not None and select is None:
        select = []                   # only `members` (`manager`) selected: id + the annotation
    ids = None
    if q.get("$filter"):
        ids = parse_filter(q["$filter"], props).id_values()
        if ids is None:
            raise ODataError("Unsupported query: delta supports only $filter=id eq '...' "
                             "(optionally or-ed).", "Request_UnsupportedQuery")
        if len(ids) > MAX_FILTER_IDS:
            raise ODataError(
                f"Too many objects in the $filter of {resource}/delta: {len(ids)}; the limit is "
                f"{MAX_FILTER_IDS} ({'user' if resource == 'users' else 'group'}-delta). "
                + STRICTER + "the documentation gives the limit, not Graph's error.",
                "Request_UnsupportedQuery")
    size = parse_top(q.get("$top"), DEFAULT_PAGE, MAX_PAGE)
    prefer = _MAXPAGESIZE.search(req.headers.get("prefer", ""))
    if prefer and "$top" not in q:
        size = max(1, min(MAX_PAGE, int(prefer.group(1))))
    # members@delta comes by default without $select (delta-query-groups), or with `members`.
    track = resource == "groups" and (select is None or members)
    return {"g": req.emu.directory.generation, "t": req.home_tenant.id, "r": resource,
            "s": select, "f": ids, "x": track, "m1": members, "n": size,
            "xm": resource == "users" and (select is None or managers), "mm": managers}


def _initial_request(req: GraphRequest, state: dict, resource: str) -> str:
    """The round's initial request with an empty $deltatoken (delta-query-overview)."""
    params: dict[str, str] = {}
    select = state.get("s")
    if select is not None:
        params["$select"] = ",".join(list(select) + (["members"] if state.get("m1") else [])
                                     + (["manager"] if state.get("mm") else []))
    if state.get("f") is not None:
        params["$filter"] = " or ".join(f"id eq '{i}'" for i in state["f"])
    params["$deltatoken"] = ""
    return req.link(f"/{resource}/delta", params)


def _gone(req: GraphRequest, state: dict, resource: str, code: str,
          message: str) -> GraphHttpError:
    return GraphHttpError(410, code, message,
                          {"Location": _initial_request(req, state, resource)})


def _check_token(req: GraphRequest, token: dict, resource: str) -> None:
    if token.get("t") != req.home_tenant.id or token.get("r") != resource:
        raise bad_request(f"The token is not valid for {resource}/delta of this tenant.")
    emulator = req.emu
    if token.get("g") != emulator.directory.generation:
        raise _gone(req, token, resource, "resyncRequired",
                    "The delta token is no longer valid, and the app must reset the sync state "
                    "(the emulator was reset). Start again with the URL in the Location header.")
    ttl = emulator.delta_token_ttl
    expired = token.get("e", 0) < emulator.delta_epoch \
        or (ttl is not None and clock() - token.get("i", 0) > ttl)
    if expired:
        raise _gone(req, token, resource, "syncStateNotFound",
                    "The sync state generation is not found. The delta token is expired and data "
                    "must be synchronized again. Start again with the URL in the Location header.")


def _delta(req: GraphRequest, resource: str) -> GraphResponse:
    q = req.query
    tenant = req.home_tenant
    log = tenant.user_log if resource == "users" else tenant.group_log
    token_text = q.get("$deltatoken", "")
    if "$skiptoken" in q:
        state = decode_token(q["$skiptoken"], kind="skip")
        _check_token(req, state, resource)
    elif token_text and token_text.lower() != "latest":
        state = decode_token(token_text, kind="delta")
        _check_token(req, state, resource)
        state.update(m="inc", T=tenant.seq, p=log.start(state["S"]))
    else:                 # no token, or an empty one (the Location of a 410): a new round
        state = _first_request_state(req, resource)
        if token_text.lower() == "latest":           # a token for "from now", no data
            return _page(req, resource, state, [], None, tenant.seq)
        state.update(m="full", S=tenant.seq, c=[0, 0])
    if state["m"] == "full":
        items, more = _full_page(tenant, resource, state)
        return _page(req, resource, state, items, more, state["S"])
    items, more = _incremental_page(tenant, resource, state)
    return _page(req, resource, state, items, more, state["T"])


def _page(req: GraphRequest, resource: str, state: dict, items: list[dict], more: dict | None,
          upto: int) -> GraphResponse:
    body: dict = {"@odata.context": req.context(context_name(resource, state["s"]))}
    issued = {"e": req.emu.delta_epoch, "i": clock()}
    if more is not None:
        body["@odata.nextLink"] = req.link(f"/{resource}/delta", {
            "$skiptoken": encode_token({**state, **more, **issued})})
    else:
        token = {k: state.get(k) for k in ("g", "t", "r", "s", "f", "x", "m1", "n", "xm", "mm")}
        token.update(issued, S=upto)
        body["@odata.deltaLink"] = req.link(f"/{resource}/delta",
                                            {"$deltatoken": encode_token(token)})
    body["value"] = items
    return GraphResponse(200, body)


def _with_id(select: list[str] | None, default: tuple[str, ...]) -> list[str] | tuple[str, ...]:
    if select is None:
        return default
    return select if "id" in select else ["id", *select]


def _member_ref(member_id: str, member_type: str) -> dict:
    return {"@odata.type": f"#microsoft.graph.{member_type}", "id": member_id}


def _full_page(tenant: Tenant, resource: str, state: dict) -> tuple[list[dict], dict | None]:
    """Next page of a first round; returns (items, cursor update or None when done)."""
    size, select, expand = state["n"], state["s"], state["x"]
    users = resource == "users"
    order = tenant.user_order if users else tenant.group_order
    objects = tenant.users if users else tenant.groups
    meta = tenant.user_meta if users else tenant.group_meta
    names = _with_id(select, USER_DEFAULT if users else GROUP_DEFAULT)
    props = USERS if users else GROUPS
    if state["f"] is not None:
        live = {i for i in state["f"] if i in objects}
        pairs = sorted((meta[i].ord, i) for i in live)
        keys, ids = [k for k, _ in pairs], [i for _, i in pairs]
        i = bisect_right(keys, state["c"][0])
    else:
        keys, ids = order.keys, order.ids
        i = order.index_after(state["c"][0])
    last, offset = state["c"]
    items: list[dict] = []
    while i < len(ids) and len(items) < size:
        oid = ids[i]
        item = project(objects[oid], names, props)
        if expand:
            members = list(tenant.members[oid].items())
            chunk = members[offset:offset + MEMBERS_PER_PAGE]
            if chunk:           # delta-query-groups: a group without members has no members@delta
                item["members@delta"] = [_member_ref(m, t) for m, t in chunk]
            items.append(item)
            if offset + MEMBERS_PER_PAGE < len(members):
                return items, {"c": [last, offset + MEMBERS_PER_PAGE]}
        else:
            refs = manager.first_round(tenant, oid) if users and state.get("xm") else None
            if refs:
                item["manager@delta"] = refs
            items.append(item)
        last, offset = keys[i], 0
        i += 1
    if i < len(ids):
        return items, {"c": [last, 0]}
    return items, None


def _incremental_page(tenant: Tenant, resource: str,
                      state: dict) -> tuple[list[dict], dict | None]:
    """Next page of a later round: walk the change log from position p up to sequence T."""
    users = resource == "users"
    log = tenant.user_log if users else tenant.group_log
    upto, size = state["T"], state["n"]
    wanted = set(state["f"]) if state["f"] is not None else None
    build = _user_change if users else _group_change
    items: list[dict] = []
    p = state["p"]
    seqs = log.seqs
    while p < len(seqs) and seqs[p] <= upto and len(items) < size:
        oid = log.ids[p]
        if log.is_last_upto(p, upto) and (wanted is None or oid in wanted):
            item = build(tenant, oid, state)
            if item is not None:
                items.append(item)
        p += 1
    if p < len(seqs) and seqs[p] <= upto:
        return items, {"p": p}
    return items, None


def _user_change(tenant: Tenant, uid: str, state: dict) -> dict | None:
    since, select = state["S"], state["s"]
    meta = tenant.user_meta[uid]
    where = tenant.user_state(uid)
    if where == "live":
        refs = manager.changed(tenant, uid, since, state["T"]) if state.get("xm") else None
        if not refs and not meta.changed_after(since, select):
            return None                     # only untracked properties changed
        item = project(tenant.users[uid], _with_id(select, USER_DEFAULT), USERS)
        if refs:
            item["manager@delta"] = refs
        return item
    if meta.life <= since:
        return None
    return {"id": uid, "@removed": {"reason": "changed" if where == "deleted" else "deleted"}}


def _group_change(tenant: Tenant, gid: str, state: dict) -> dict | None:
    since, upto, select, expand = state["S"], state["T"], state["s"], state["x"]
    meta = tenant.group_meta[gid]
    if tenant.group_state(gid) == "gone":
        return {"id": gid, "@removed": {"reason": "deleted"}} if meta.life > since else None
    changed = meta.changed_after(since, select)
    members = tenant.member_logs[gid].net(since, upto) if expand else {}
    if not changed and not members:
        return None
    # delta-query-groups: "The objects are returned with the same set of properties originally
    # specified via the $select query parameter. Both changed and unchanged properties are
    # included." - a membership change too.
    item = project(tenant.groups[gid], _with_id(select, GROUP_DEFAULT), GROUPS)
    if members:
        refs = []
        for member_id, (member_type, present) in members.items():
            ref = _member_ref(member_id, member_type)
            if not present:
                ref["@removed"] = {"reason": "deleted"}
            refs.append(ref)
        item["members@delta"] = refs
    return item
