"""A user's manager: GET /users/{id}/manager, GET|PUT|DELETE /users/{id}/manager/$ref,
`$expand=manager` on GET /users and /users/{id}, and `manager@delta` in users/delta.

Held to the Graph v1.0 pages:
- user-list-manager: GET /users/{id | userPrincipalName}/manager returns the manager (a user);
  `$select` and `$expand` are supported; `GET /users?$expand=manager` and
  `GET /users/{id}?$expand=manager($levels=n)` read it with the users; `$select` inside `$expand`
  (`manager($levels=max;$select=id,displayName)`); "`$levels` parameter is only supported on a
  single user ... and not on the entire list of users", and it needs `ConsistencyLevel: eventual`;
  n is `max` or 1..1000; without `$levels` only the immediate manager comes.
- user-post-manager: PUT /users/{id}/manager/$ref with {"@odata.id":
  "https://graph.microsoft.com/v1.0/users/{id}"} (a directoryObject, user or organizational contact);
  204 No Content.
- user-delete-manager: DELETE /users/{id}/manager/$ref; 204 No Content.
- delta-query-overview: "`$select` also supports **manager** ... Selecting those properties allows
  tracking of changes to user's manager"; relationships come as `propertyName@delta` annotations,
  "included in the response of the initial delta query request". Without `$select` every property
  is tracked (delta-query-users), the manager included.

Emulator decisions where the pages are silent:
- A user without a manager (or whose manager is in deleted items): 404 Request_ResourceNotFound
  "Resource 'manager' does not exist or one of its queried reference-property objects are not
  present." on GET and DELETE; `$expand=manager` leaves `manager` out of that user.
- `@odata.id` is accepted as `<any root>/v1.0|beta/users/{id or userPrincipalName}` or
  `.../directoryObjects/{id}` (the page's form and the directoryObject the body may name; the
  emulator's own root works too). The manager must be a live user of the same tenant (404
  otherwise); a user cannot be its own manager (400). Organizational contacts are not emulated.
- GET .../manager/$ref answers {"@odata.context": ".../$metadata#$ref", "@odata.id":
  "<root>/users/{managerId}"} (the OData entity-reference shape), which PUT takes back.
- `manager@delta` has the shape of group-delta's `members@delta`: a new manager as
  {"@odata.type": "#microsoft.graph.user", "id"}; a removed one with "@removed": {"reason":
  "deleted"}. A later round carries it only when the manager changed in that round.
- Storage and soft delete: directory.py (set_manager, manager_at).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.listing import reject_unsupported
from tenantsync.emulator.odata import ODataError, parse_select, project
from tenantsync.emulator.protocol import GraphRequest, GraphResponse, bad_request, not_found, read_json_body
from tenantsync.emulator.schema import USER_DEFAULT, USERS

NAME = "manager"
USER_TYPE = "#microsoft.graph.user"
MAX_LEVELS = 1000
_EXPAND = re.compile(r"^\s*manager\s*(?:\((?P<inner>.*)\))?\s*$", re.IGNORECASE | re.DOTALL)
_REF = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+(?:/[^/]+)*?/(?:v1\.0|beta)/"
                  r"(?P<kind>users|directoryObjects)/(?P<id>[^/?#]+)/?$", re.IGNORECASE)


def manager_of(tenant: Tenant, uid: str) -> dict | None:
    """The user's manager when it is a live user (a manager in deleted items is not served)."""
    mid = tenant.managers.get(uid)
    return tenant.users.get(mid) if mid else None


def _user_or_404(req: GraphRequest, key: str) -> dict:
    user = req.home_tenant.find_user(key)
    if user is None:
        raise not_found(key)
    return user


def _entity(req: GraphRequest, user: dict, select: list[str] | None) -> dict:
    return {"@odata.type": USER_TYPE, **project(user, select or USER_DEFAULT, USERS)}


# -- handlers ------------------------------------------------------------------------------------
def get_manager(req: GraphRequest, id: str) -> GraphResponse:
    """GET /users/{id}/manager (user-list-manager)."""
    user = _user_or_404(req, id)
    expand = expander(req, single=True)             # $expand=manager: the manager's own manager
    reject_unsupported({k: v for k, v in req.query.items() if k != "$expand"})
    manager = manager_of(req.home_tenant, user["id"])
    if manager is None:
        raise not_found(NAME)
    select = parse_select(req.query.get("$select"), req.home_tenant.user_props)
    body = _entity(req, manager, select)
    if expand is not None:
        body = expand(manager, body)
    return GraphResponse(200, {"@odata.context": req.context("directoryObjects/$entity"), **body})


def get_manager_ref(req: GraphRequest, id: str) -> GraphResponse:
    """GET /users/{id}/manager/$ref: the manager as an entity reference."""
    user = _user_or_404(req, id)
    manager = manager_of(req.home_tenant, user["id"])
    if manager is None:
        raise not_found(NAME)
    return GraphResponse(200, {"@odata.context": req.context("$ref"),
                               "@odata.id": f"{req.graph_root}/users/{manager['id']}"})


def put_manager_ref(req: GraphRequest, id: str) -> GraphResponse:
    """PUT /users/{id}/manager/$ref (user-post-manager): 204."""
    user = _user_or_404(req, id)
    ref = read_json_body(req).get("@odata.id")
    if not isinstance(ref, str) or not ref:
        raise bad_request("The request body must carry '@odata.id', the URL of the manager, "
                          "e.g. https://graph.microsoft.com/v1.0/users/{id} (user-post-manager).")
    found = _REF.match(ref.strip())
    if found is None:
        raise bad_request(f"Invalid value specified for property '@odata.id': '{ref}' is not the "
                          "URL of a user (https://graph.microsoft.com/v1.0/users/{id}).")
    key = found.group("id")
    manager = (req.home_tenant.find_user(key) if found.group("kind").lower() == "users"
               else req.home_tenant.users.get(key) or req.home_tenant.users.get(key.lower()))
    if manager is None:
        raise not_found(key)
    if manager["id"] == user["id"]:
        raise bad_request("A user cannot be their own manager. The tenantsync emulator refuses "
                          "this deliberately (the Graph pages do not say what Graph answers).")
    req.home_tenant.set_manager(user["id"], manager["id"])
    return GraphResponse(204)


def delete_manager_ref(req: GraphRequest, id: str) -> GraphResponse:
    """DELETE /users/{id}/manager/$ref (user-delete-manager): 204; 404 without a manager."""
    user = _user_or_404(req, id)
    if not req.home_tenant.set_manager(user["id"], None):
        raise not_found(NAME)
    return GraphResponse(204)


# -- $expand=manager -----------------------------------------------------------------------------
Expander = Callable[[dict, dict], dict]


def expander(req: GraphRequest, *, single: bool) -> Expander | None:
    """What `$expand=manager[(...)]` adds to each projected user; None without $expand.

    Any other navigation property is refused (the emulator expands the manager only)."""
    text = req.query.get("$expand")
    if text is None:
        return None
    found = _EXPAND.match(text)
    if found is None:
        raise ODataError(f"$expand={text} is not supported here (tenantsync emulator: only "
                         "$expand=manager, user-list-manager).", "Request_UnsupportedQuery")
    options = _options(found.group("inner") or "")
    levels = _levels(req, options.get("$levels"), single)
    select = parse_select(options.get("$select"), req.home_tenant.user_props)
    tenant = req.home_tenant

    def chain(user: dict, depth: int, seen: set[str]) -> dict | None:
        manager = manager_of(tenant, user["id"])
        if manager is None or manager["id"] in seen:
            return None
        node = _entity(req, manager, select)
        if depth > 1:
            above = chain(manager, depth - 1, seen | {manager["id"]})
            if above is not None:
                node["manager"] = above
        return node

    def add(user: dict, projected: dict) -> dict:
        node = chain(user, levels, {user["id"]})
        if node is not None:
            projected["manager"] = node
        return projected

    return add


def _options(inner: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in (p.strip() for p in inner.split(";")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = "$" + name.strip().lstrip("$").lower()
        if not sep or name not in ("$select", "$levels"):
            raise ODataError(f"Invalid $expand option '{part}' for manager (user-list-manager: "
                             "$select and $levels).", "Request_UnsupportedQuery")
        options[name] = value.strip()
    return options


def _levels(req: GraphRequest, value: str | None, single: bool) -> int:
    if value is None:
        return 1
    if not single:
        raise ODataError("$levels is only supported on a single user (/users/{id}), not on the "
                         "list of users (user-list-manager).", "Request_UnsupportedQuery")
    if req.headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request("$levels in $expand=manager requires the 'ConsistencyLevel: eventual' "
                          "header (user-list-manager).")
    if value.lower() == "max":
        return MAX_LEVELS
    if not value.isdigit() or not 1 <= int(value) <= MAX_LEVELS:
        raise bad_request(f"Invalid $levels value '{value}': max or a number between 1 and "
                          f"{MAX_LEVELS} (user-list-manager).")
    return int(value)


# -- users/delta ---------------------------------------------------------------------------------
def split_select(text: str | None) -> tuple[str | None, bool]:
    """($select without `manager`, manager selected) - delta-query-overview."""
    if text is None:
        return None, False
    names = [n.strip() for n in text.split(",") if n.strip()]
    rest = [n for n in names if n.lower() != NAME]
    return ",".join(rest), len(rest) != len(names)


def _ref(manager_id: str) -> dict:
    return {"@odata.type": USER_TYPE, "id": manager_id}


def first_round(tenant: Tenant, uid: str) -> list[dict] | None:
    """`manager@delta` of a user in a round's first pages: its manager, if it has one."""
    mid = tenant.managers.get(uid)
    return [_ref(mid)] if mid else None


def changed(tenant: Tenant, uid: str, since: int, upto: int) -> list[dict] | None:
    """`manager@delta` of a later round: the manager change in (since, upto], or None."""
    before, after = tenant.manager_at(uid, since), tenant.manager_at(uid, upto)
    if before == after:
        return None
    refs = [_ref(after)] if after else []
    if before:
        refs.append({**_ref(before), "@removed": {"reason": "deleted"}})
    return refs
