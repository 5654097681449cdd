"""GET /users/delta and /groups/delta (reference §11).

A round starts without a token: query options ($select, $filter=id eq .. or .., $expand=members,
$top or `Prefer: odata.maxpagesize`) are read once and carried in the tokens. The first round
pages through every live object and ends with a deltaLink holding the tenant's sequence number at
its start (so nothing changed during the paging is lost: it comes again next round). A later
round walks the change log from that sequence (bisect, never a scan of the tenant) and reports
each changed object once, at its last change:
- created, restored or changed (in a tracked property) -> the object with its selected properties;
- soft-deleted user -> {"id", "@removed": {"reason": "changed"}};
- hard-deleted user, deleted group -> {"id", "@removed": {"reason": "deleted"}};
- group whose members changed (with $expand=members) -> {"id", "members@delta": [...]} where a
  removed member carries "@removed": {"reason": "deleted"}.
In a first round a large group's members come in chunks of MEMBERS_PER_PAGE, the group repeated
on the next page with the next chunk (clients merge, as with Graph).
A token from before an emulator reset is answered 410 Gone (code resyncRequired).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.listing import context_name
from tenantsync.emulator.odata import ODataError, parse_filter, parse_select, parse_top, project
from tenantsync.emulator.protocol import (GraphHttpError, GraphRequest, GraphResponse,
                                          bad_request, decode_token, encode_token)
from tenantsync.emulator.schema import GROUP_DEFAULT, GROUPS, USER_DEFAULT, USERS

DEFAULT_PAGE = 200
MAX_PAGE = 999
MEMBERS_PER_PAGE = 1000
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


def users_delta(req: GraphRequest) -> GraphResponse:
    """GET /users/delta."""
    return _delta(req, "users")


def groups_delta(req: GraphRequest) -> GraphResponse:
    """GET /groups/delta."""
    return _delta(req, "groups")


def _first_request_state(req: GraphRequest, resource: str) -> dict:
    q = req.query
    props = USERS if resource == "users" else GROUPS
    select = parse_select(q.get("$select"), props)
    ids = None
    if q.get("$filter"):
        ids = parse_filter(q["$filter"], props).id_values()
        if ids is None:
            raise ODataError("Unsupported query: delta supports only $filter=id eq '...' "
                             "(optionally or-ed).", "Request_UnsupportedQuery")
    expand = False
    if q.get("$expand"):
        if resource == "groups" and q["$expand"].split("(")[0].strip().lower() == "members":
            expand = True
        else:
            raise ODataError(f"Unsupported $expand '{q['$expand']}' on {resource}/delta.",
                             "Request_UnsupportedQuery")
    size = parse_top(q.get("$top"), DEFAULT_PAGE, MAX_PAGE)
    prefer = _MAXPAGESIZE.search(req.headers.get("prefer", ""))
    if prefer and "$top" not in q:
        size = max(1, min(MAX_PAGE, int(prefer.group(1))))
    return {"g": req.emulator.directory.generation, "t": req.tenant.id, "r": resource,
            "s": select, "f": ids, "x": expand, "n": size}


def _check_token(req: GraphRequest, token: dict, resource: str) -> None:
    if token.get("g") != req.emulator.directory.generation:
        raise GraphHttpError(410, "resyncRequired",
                             "The delta token is no longer valid (the emulator was reset); start "
                             "a new round without a token.")
    if token.get("t") != req.tenant.id or token.get("r") != resource:
        raise bad_request(f"The token is not valid for {resource}/delta of this tenant.")


def _delta(req: GraphRequest, resource: str) -> GraphResponse:
    q = req.query
    tenant = req.tenant
    log = tenant.user_log if resource == "users" else tenant.group_log
    if "$skiptoken" in q:
        state = decode_token(q["$skiptoken"], kind="skip")
        _check_token(req, state, resource)
    elif "$deltatoken" in q and q["$deltatoken"].lower() != "latest":
        state = decode_token(q["$deltatoken"], kind="delta")
        _check_token(req, state, resource)
        state.update(m="inc", T=tenant.seq, p=log.start(state["S"]))
    else:
        state = _first_request_state(req, resource)
        if q.get("$deltatoken", "").lower() == "latest":   # a token for "from now", no data
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
    if more is not None:
        body["@odata.nextLink"] = req.link(f"/{resource}/delta",
                                           {"$skiptoken": encode_token({**state, **more})})
    else:
        token = {k: state[k] for k in ("g", "t", "r", "s", "f", "x", "n")}
        token["S"] = upto
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
            item["members@delta"] = [_member_ref(m, t) for m, t in chunk]
            items.append(item)
            if offset + MEMBERS_PER_PAGE < len(members):
                return items, {"c": [last, offset + MEMBERS_PER_PAGE]}
        else:
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
        if not meta.changed_after(since, select):
            return None                     # only untracked properties changed
        return project(tenant.users[uid], _with_id(select, USER_DEFAULT), USERS)
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
    item = project(tenant.groups[gid], _with_id(select, GROUP_DEFAULT), GROUPS) if changed \
        else {"id": gid}
    if members:
        refs = []
        for member_id, (member_type, present) in members.items():
            ref = _member_ref(member_id, member_type)
            if not present:
                ref["@removed"] = {"reason": "deleted"}
            refs.append(ref)
        item["members@delta"] = refs
    return item
