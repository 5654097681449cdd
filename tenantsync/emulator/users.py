"""/users, /directory/deletedItems and /directoryObjects/getByIds handlers."""

from __future__ import annotations

from tenantsync.emulator import manager
from tenantsync.emulator.applications import valid_extension_value
from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.fixture_types import value_problem
from tenantsync.emulator.listing import reject_unsupported, respond_list
from tenantsync.emulator.odata import parse_filter, parse_select, project
from tenantsync.emulator.protocol import GraphRequest, GraphResponse, bad_request, not_found, read_json_body
from tenantsync.emulator.schema import GROUP_DEFAULT, GROUPS, USER_DEFAULT, USERS, PropertySet, looks_like_extension

_DELETED_DEFAULT = USER_DEFAULT + ("deletedDateTime",)
_REQUIRED_ON_CREATE = ("accountEnabled", "displayName", "mailNickname", "userPrincipalName",
                       "passwordProfile")


def project_user(user: dict, select: list[str] | None) -> dict:
    """A user as Graph shows it: the default property set, or exactly the $select-ed ones."""
    return project(user, select or USER_DEFAULT, USERS)


def project_deleted_user(user: dict, select: list[str] | None) -> dict:
    """A deleted user: default properties plus deletedDateTime."""
    return project(user, select or _DELETED_DEFAULT, USERS)


def project_object(tenant: Tenant, object_id: str, select: list[str] | None) -> dict | None:
    """A user or group with its @odata.type, as directoryObject collections show them."""
    user = tenant.users.get(object_id)
    if user is not None:
        return {"@odata.type": "#microsoft.graph.user", **project_user(user, select)}
    group = tenant.groups.get(object_id)
    if group is not None:
        return {"@odata.type": "#microsoft.graph.group",
                **project(group, select or GROUP_DEFAULT, GROUPS)}
    return None


def _user_or_404(req: GraphRequest, key: str) -> dict:
    user = req.home_tenant.find_user(key)
    if user is None:
        raise not_found(key)
    return user


def check_upn(tenant: Tenant, upn: object, *, current_id: str | None = None) -> str:
    """Validate a userPrincipalName: shape, verified domain, uniqueness."""
    if not isinstance(upn, str) or upn.count("@") != 1 or upn.startswith("@"):
        raise bad_request("Invalid value specified for property 'userPrincipalName' of "
                          "resource 'User'.")
    if upn.rpartition("@")[2].lower() not in tenant.domain_names():
        raise bad_request("The domain portion of the userPrincipalName property is invalid. You "
                          "must use one of the verified domain names in your organization.")
    owner = tenant.upn_index.get(upn.lower())
    if owner is not None and owner != current_id:
        raise bad_request("Another object with the same value for property userPrincipalName "
                          "already exists.")
    return upn


def writable_properties(body: dict, type_name: str = "User",
                        props: PropertySet | None = None) -> dict:
    """The body's properties, canonical names, refusing unknown and read-only ones.

    `props`: the tenant's property set (Tenant.user_props / group_props), which holds its
    registered directory extensions; an unregistered `extension_*` name is refused with Graph's
    "The following extension properties are not available: ..." (applications.py)."""
    props = props or (USERS if type_name == "User" else GROUPS)
    out: dict = {}
    unavailable: list[str] = []
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        name = props.canonical(key)
        if name is None and looks_like_extension(key):
            unavailable.append(key)
            continue
        if name is None:
            raise bad_request(f"Property '{key}' does not exist as a declared property or "
                              "extension property.")
        if name in props.read_only:
            raise bad_request(f"Property '{name}' is read-only and cannot be set.")
        if name in props.collections and value is not None and not isinstance(value, list):
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              f"'{type_name}'.")
        if name in ("accountEnabled", "securityEnabled", "mailEnabled") \
                and value is not None and not isinstance(value, bool):
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              f"'{type_name}'.")
        ext = props.extensions.get(name)
        if ext is not None and not valid_extension_value(ext, value):
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              f"'{type_name}'.")
        if ext is None and value_problem(type_name, name, value):   # type, maximum length
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              f"'{type_name}'.")
        out[name] = value
    if unavailable:
        raise bad_request("The following extension properties are not available: "
                          f"{','.join(unavailable)}.")
    return out


# The user resource marks these "Read-only" (or "Read-only in Microsoft Graph"), "Don't use" or
# "Not Supported"; the emulator refuses them like its other read-only properties (400).
USER_NOT_WRITABLE: frozenset[str] = frozenset("""
imAddresses isManagementRestricted isResourceAccount legalAgeGroupClassification
onPremisesDistinguishedName onPremisesDomainName onPremisesSamAccountName
onPremisesUserPrincipalName preferredName proxyAddresses signInSessionsValidFromDateTime
""".split())
# update-user: "The following properties cannot be updated using an application-only context".
# Every emulator token is app-only.
USER_NOT_UPDATABLE_APP_ONLY: frozenset[str] = frozenset("""
aboutMe birthday hireDate interests mySite pastProjects preferredName responsibilities schools
skills
""".split())


def refuse_not_writable(props: dict, *, update: bool) -> None:
    """400 for user properties Graph's pages say not to write through Graph.

    showInAddressList: the user resource says "Do not use in Microsoft Graph. Manage this property
    through the Microsoft 365 admin center instead." and update-user does not list it. What Graph
    answers is not documented; the emulator refuses (rather than ignores) so that a client that
    sends it learns so here. The wording of these errors is the emulator's.
    """
    for name in props:
        if name == "showInAddressList":
            raise bad_request("Property 'showInAddressList' is not to be written through Microsoft "
                              "Graph (user resource: \"Do not use in Microsoft Graph. Manage this "
                              "property through the Microsoft 365 admin center instead.\"). "
                              "The tenantsync emulator refuses it deliberately.")
        if name in USER_NOT_WRITABLE:
            raise bad_request(f"Property '{name}' is read-only and cannot be set.")
        if update and name in USER_NOT_UPDATABLE_APP_ONLY:
            raise bad_request(f"Property '{name}' cannot be updated using an application-only "
                              "context (update-user).")


# -- handlers ----------------------------------------------------------------------------
def list_users(req: GraphRequest) -> GraphResponse:
    """GET /users."""
    t = req.home_tenant
    return respond_list(req, props=t.user_props, ids=t.user_order.ids, keys=t.user_order.keys,
                        get=t.users.get, project=project_user, context="users",
                        lookup=t.lookup, key_of=lambda i: t.user_meta[i].ord,
                        index_after=t.user_order.index_after,
                        expand=manager.expander(req, single=False))


def count_users(req: GraphRequest) -> GraphResponse:
    """GET /users/$count (text/plain; needs ConsistencyLevel: eventual)."""
    if req.headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request("$count is not currently supported without the "
                          "'ConsistencyLevel: eventual' header.")
    t = req.home_tenant
    if req.query.get("$filter"):
        pred = parse_filter(req.query["$filter"], t.user_props).predicate
        count = sum(1 for u in t.users.values() if pred(u))
    else:
        count = len(t.users)
    return GraphResponse(200, str(count), {"Content-Type": "text/plain;charset=utf-8"})


def get_user(req: GraphRequest, id: str) -> GraphResponse:
    """GET /users/{id | userPrincipalName}; $expand=manager as manager.py says."""
    user = _user_or_404(req, id)
    expand = manager.expander(req, single=True)
    reject_unsupported({k: v for k, v in req.query.items() if k != "$expand"})
    select = parse_select(req.query.get("$select"), req.home_tenant.user_props)
    fragment = f"users({','.join(select)})/$entity" if select else "users/$entity"
    body = project_user(user, select)
    if expand is not None:
        body = expand(user, body)
    return GraphResponse(200, {"@odata.context": req.context(fragment), **body})


def create_user(req: GraphRequest) -> GraphResponse:
    """POST /users."""
    t = req.home_tenant
    props = writable_properties(read_json_body(req), props=t.user_props)
    refuse_not_writable(props, update=False)
    for name in _REQUIRED_ON_CREATE:
        if props.get(name) in (None, ""):
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              "'User'.")
    check_upn(t, props["userPrincipalName"])
    props.pop("passwordProfile")                   # never stored, never served
    props.setdefault("userType", "Member")
    props = {k: v for k, v in props.items() if v is not None}
    user = t.add_user(props)
    return GraphResponse(201, {"@odata.context": req.context("users/$entity"),
                               **project_user(user, None)},
                         {"Location": f"{req.graph_root}/users/{user['id']}"})


def update_user(req: GraphRequest, id: str) -> GraphResponse:
    """PATCH /users/{id}: any writable property, registered extension_* included; 204."""
    t = req.home_tenant
    user = _user_or_404(req, id)
    props = writable_properties(read_json_body(req), props=t.user_props)
    refuse_not_writable(props, update=True)
    if "displayName" in props and not props["displayName"]:
        # user resource: displayName "cannot be cleared during updates"
        raise bad_request("Invalid value specified for property 'displayName' of resource "
                          "'User'.")
    props.pop("passwordProfile", None)
    if "userPrincipalName" in props:
        check_upn(t, props["userPrincipalName"], current_id=user["id"])
    if props:
        t.update_user(user["id"], props)
    return GraphResponse(204)


def delete_user(req: GraphRequest, id: str) -> GraphResponse:
    """DELETE /users/{id}: soft delete into deleted items."""
    user = _user_or_404(req, id)
    req.home_tenant.soft_delete_user(user["id"])
    return GraphResponse(204)


def list_deleted_users(req: GraphRequest) -> GraphResponse:
    """GET /directory/deletedItems/microsoft.graph.user."""
    t = req.home_tenant
    return respond_list(req, props=t.user_props, ids=list(t.deleted), keys=None,
                        get=t.deleted.get, project=project_deleted_user,
                        context="directory/deletedItems/microsoft.graph.user")


def _deleted_or_404(req: GraphRequest, id: str) -> dict:
    user = req.home_tenant.deleted.get(id) or req.home_tenant.deleted.get(id.lower())
    if user is None:
        raise not_found(id)
    return user


def get_deleted_item(req: GraphRequest, id: str) -> GraphResponse:
    """GET /directory/deletedItems/{id}."""
    user = _deleted_or_404(req, id)
    select = parse_select(req.query.get("$select"), req.home_tenant.user_props)
    return GraphResponse(200, {"@odata.context": req.context("directoryObjects/$entity"),
                               "@odata.type": "#microsoft.graph.user",
                               **project_deleted_user(user, select)})


def delete_deleted_item(req: GraphRequest, id: str) -> GraphResponse:
    """DELETE /directory/deletedItems/{id}: permanent delete."""
    user = _deleted_or_404(req, id)
    req.home_tenant.hard_delete_user(user["id"])
    return GraphResponse(204)


def restore_deleted_item(req: GraphRequest, id: str) -> GraphResponse:
    """POST /directory/deletedItems/{id}/restore."""
    user = _deleted_or_404(req, id)
    try:
        req.home_tenant.restore_user(user["id"])
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return GraphResponse(200, {"@odata.context": req.context("directoryObjects/$entity"),
                               "@odata.type": "#microsoft.graph.user",
                               **project_user(user, None)})


def get_by_ids(req: GraphRequest) -> GraphResponse:
    """POST /directoryObjects/getByIds."""
    body = read_json_body(req)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > 1000:
        raise bad_request("Invalid value specified for property 'ids': 1 to 1000 ids required.")
    types = {str(x).lower().rsplit(".", 1)[-1] for x in body.get("types") or ["user", "group"]}
    values = []
    for object_id in ids:
        kind = req.home_tenant.object_type(str(object_id))
        if kind in types:
            values.append(project_object(req.home_tenant, str(object_id), None))
    return GraphResponse(200, {"@odata.context": req.context("directoryObjects"),
                               "value": values})

