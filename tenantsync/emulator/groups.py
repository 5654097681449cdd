"""/groups handlers: list, get, create, update, delete, direct members and member $ref."""

from __future__ import annotations

import re

from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.listing import reject_unsupported, respond_list
from tenantsync.emulator.odata import parse_select, project
from tenantsync.emulator.protocol import GraphRequest, GraphResponse, bad_request, not_found, read_json_body
from tenantsync.emulator.schema import GROUP_DEFAULT, GROUPS
from tenantsync.emulator.users import project_object, writable_properties

_REF = re.compile(r"/(?:directoryObjects|users|groups)/([^/?#]+)/?$", re.IGNORECASE)


def project_group(group: dict, select: list[str] | None) -> dict:
    """A group as Graph shows it."""
    return project(group, select or GROUP_DEFAULT, GROUPS)


def _group_or_404(req: GraphRequest, id: str) -> dict:
    group = req.home_tenant.groups.get(id) or req.home_tenant.groups.get(id.lower())
    if group is None:
        raise not_found(id)
    return group


def list_groups(req: GraphRequest) -> GraphResponse:
    """GET /groups."""
    t = req.home_tenant
    return respond_list(req, props=t.group_props, ids=t.group_order.ids, keys=t.group_order.keys,
                        get=t.groups.get, project=project_group, context="groups",
                        index_after=t.group_order.index_after)


def get_group(req: GraphRequest, id: str) -> GraphResponse:
    """GET /groups/{id}."""
    group = _group_or_404(req, id)
    reject_unsupported(req.query)
    select = parse_select(req.query.get("$select"), req.home_tenant.group_props)
    return GraphResponse(200, {"@odata.context": req.context("groups/$entity"),
                               **project_group(group, select)})


def create_group(req: GraphRequest) -> GraphResponse:
    """POST /groups (members@odata.bind accepted)."""
    body = dict(read_json_body(req))
    binds = body.pop("members@odata.bind", [])
    props = writable_properties(body, "Group", req.home_tenant.group_props)
    for name in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
        if props.get(name) in (None, ""):
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              "'Group'.")
    member_ids = [_ref_id(ref) for ref in binds]
    member_types: dict[str, str] = {}
    for member_id in member_ids:
        kind = req.home_tenant.object_type(member_id)
        if kind is None:
            raise not_found(member_id)
        member_types[member_id] = kind
    props.setdefault("groupTypes", [])
    group = req.home_tenant.add_group({k: v for k, v in props.items() if v is not None})
    for member_id in member_ids:
        if member_id not in req.home_tenant.members[group["id"]]:
            req.home_tenant.add_member(group["id"], member_id, member_types[member_id])
    return GraphResponse(201, {"@odata.context": req.context("groups/$entity"),
                               **project_group(group, None)})


def update_group(req: GraphRequest, id: str) -> GraphResponse:
    """PATCH /groups/{id}; 204."""
    group = _group_or_404(req, id)
    props = writable_properties(read_json_body(req), "Group", req.home_tenant.group_props)
    if props:
        req.home_tenant.update_group(group["id"], props)
    return GraphResponse(204)


def delete_group(req: GraphRequest, id: str) -> GraphResponse:
    """DELETE /groups/{id}; permanent (security groups are not restorable)."""
    group = _group_or_404(req, id)
    req.home_tenant.delete_group(group["id"])
    return GraphResponse(204)


def list_members(req: GraphRequest, id: str) -> GraphResponse:
    """GET /groups/{id}/members: direct members, users and groups, each with @odata.type.

    A soft-deleted user keeps its membership but is not listed while in deleted items (see
    directory.py)."""
    group = _group_or_404(req, id)
    t = req.home_tenant
    members = [m for m in t.members[group["id"]] if m in t.users or m in t.groups]

    def get(object_id: str) -> dict | None:
        return t.users.get(object_id) or t.groups.get(object_id)

    def proj(obj: dict, select: list[str] | None) -> dict:
        return project_object(t, obj["id"], select) or {}

    return respond_list(req, props=_MemberProps(t), ids=list(members), keys=None, get=get,
                        project=proj, context="directoryObjects")


def list_member_of(req: GraphRequest, id: str) -> GraphResponse:
    """GET /users/{id}/memberOf: the groups the user is a direct member of."""
    user = req.home_tenant.find_user(id)
    if user is None:
        raise not_found(id)
    t = req.home_tenant

    def proj(obj: dict, select: list[str] | None) -> dict:
        return project_object(t, obj["id"], select) or {}

    return respond_list(req, props=_MemberProps(t), ids=sorted(t.member_of.get(user["id"], ())),
                        keys=None, get=t.groups.get, project=proj, context="directoryObjects")


def _ref_id(ref: object) -> str:
    if not isinstance(ref, str):
        raise bad_request("Invalid object identifier in '@odata.id'.")
    m = _REF.search(ref)
    if not m:
        raise bad_request(f"Invalid object identifier '{ref}'.")
    return m.group(1)


def add_member_ref(req: GraphRequest, id: str) -> GraphResponse:
    """POST /groups/{id}/members/$ref {"@odata.id": ".../directoryObjects/{id}"}; 204."""
    group = _group_or_404(req, id)
    body = read_json_body(req)
    member_id = _ref_id(body.get("@odata.id"))
    t = req.home_tenant
    kind = t.object_type(member_id)
    if kind is None:
        raise not_found(member_id)
    if member_id == group["id"]:
        raise bad_request("A group cannot be a member of itself.")
    if member_id in t.members[group["id"]]:
        raise bad_request("One or more added object references already exist for the following "
                          "modified properties: 'members'.")
    t.add_member(group["id"], member_id, kind)
    return GraphResponse(204)


def remove_member_ref(req: GraphRequest, id: str, member_id: str) -> GraphResponse:
    """DELETE /groups/{id}/members/{member_id}/$ref; 204."""
    group = _group_or_404(req, id)
    t = req.home_tenant
    if member_id not in t.members[group["id"]]:
        raise not_found(member_id)
    t.remove_member(group["id"], member_id)
    return GraphResponse(204)


class _MemberProps:
    """Members are users or groups: a property is valid when either type has it (in `tenant`,
    with its registered extensions)."""

    type_name = "microsoft.graph.directoryObject"
    collections = GROUPS.collections

    def __init__(self, tenant: Tenant) -> None:
        self.users, self.groups = tenant.user_props, tenant.group_props

    def canonical(self, name: str) -> str | None:
        return self.users.canonical(name) or self.groups.canonical(name)
