"""Service principals, the gallery template that creates them, and their app role assignments.

Why: Microsoft's cross-tenant synchronization service runs as a configuration application of the
source tenant (cross-tenant-synchronization-configure-graph, steps 6 and 10): instantiating the
gallery template 518e5f48-1fc8-4c48-9387-9fdf28b0dfe7 creates an application and its service
principal (appRole msiam_access, appRoleAssignmentRequired true), and the users and groups assigned
to it (appRoleAssignedTo) are the configuration's "assigned users and groups" scope.

Routes: applicationtemplate-instantiate, serviceprincipal-list, serviceprincipal-get,
serviceprincipal-post-approleassignedto, serviceprincipal-list-approleassignedto,
serviceprincipal-delete-approleassignedto.

Emulator decisions where the pages are silent:
- Only two templates are known: the cross-tenant synchronization one and the non-gallery one the
  instantiate page names (8adf8e6e-67b2-4cf2-a259-e3dc5476c621); another id answers 404.
- A service principal created by a caller holding only Application.ReadWrite.OwnedBy is owned by
  that caller (applications.py treats each token's own application the same way): *.OwnedBy
  callers act on the service principals they own only.
- An assignment is listed while its principal (user or group) exists; an assignment of the same
  principal and app role twice answers 400 "Permission being assigned already exists on the
  object." (as Graph words it). The default app role id (all zeros) is accepted, as in the
  list example of serviceprincipal-list-approleassignedto.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from tenantsync.emulator import applications as apps
from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.listing import reject_unsupported, respond_list
from tenantsync.emulator.odata import parse_select, project
from tenantsync.emulator.permissions import DENIED_CODE, DENIED_MESSAGE
from tenantsync.emulator.protocol import (
    GraphHttpError,
    GraphRequest,
    GraphResponse,
    bad_request,
    not_found,
    now_iso,
    read_json_body,
)
from tenantsync.emulator.schema import PropertySet

CTS_TEMPLATE_ID = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7"     # cross-tenant synchronization
CUSTOM_TEMPLATE_ID = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"  # non-gallery app (instantiate page)
TEMPLATES = {CTS_TEMPLATE_ID: "Azure2Azure", CUSTOM_TEMPLATE_ID: None}  # id -> its sync template
DEFAULT_APP_ROLE = "00000000-0000-0000-0000-000000000000"
CTS_HOMEPAGE = ("https://account.activedirectory.windowsazure.com:444/applications/"
                "default.aspx?metadata=aad2aadsync|ISV9.1|primary|z")
OWNERS = "_ownerAppIds"                    # internal: never served

SP_PROPERTIES = frozenset({
    "id", "deletedDateTime", "accountEnabled", "appId", "applicationTemplateId", "appDisplayName",
    "alternativeNames", "appOwnerOrganizationId", "displayName", "appRoleAssignmentRequired",
    "loginUrl", "logoutUrl", "homepage", "notificationEmailAddresses", "preferredSingleSignOnMode",
    "replyUrls", "servicePrincipalNames", "servicePrincipalType", "tags", "addIns", "appRoles",
    "info", "keyCredentials", "oauth2PermissionScopes", "passwordCredentials", "description"})
SP_COLLECTIONS = frozenset({"alternativeNames", "notificationEmailAddresses", "replyUrls",
                            "servicePrincipalNames", "tags", "addIns", "appRoles",
                            "keyCredentials", "oauth2PermissionScopes", "passwordCredentials"})
SP_DEFAULT = tuple(sorted(SP_PROPERTIES))
SERVICE_PRINCIPALS = PropertySet("microsoft.graph.servicePrincipal", SP_PROPERTIES, SP_DEFAULT,
                                 SP_COLLECTIONS, frozenset({"id", "appId"}))
_ASSIGNMENT_FIELDS = ("id", "deletedDateTime", "appRoleId", "createdDateTime",
                      "principalDisplayName", "principalId", "principalType",
                      "resourceDisplayName", "resourceId")


# -- state -------------------------------------------------------------------------------
def create_service_principal(tenant: Tenant, display_name: str, template_id: str, *,
                             sp_id: str | None = None, app_id: str | None = None,
                             app_role_id: str | None = None,
                             owner_app_id: str | None = None) -> tuple[dict, dict]:
    """An application and its service principal as the template creates them: (app, sp)."""
    app_id = (app_id or str(uuid.uuid4())).lower()
    app = apps.add_application(tenant, app_id, display_name)
    role = {"allowedMemberTypes": ["User"], "displayName": "msiam_access",
            "id": (app_role_id or str(uuid.uuid4())).lower(), "isEnabled": True,
            "description": "msiam_access", "value": None, "origin": "Application"}
    homepage = CTS_HOMEPAGE if template_id == CTS_TEMPLATE_ID else None
    app.update({"applicationTemplateId": template_id, "appRoles": [role], "identifierUris": [],
                "tags": [], "web": {"homePageUrl": homepage, "redirectUris": [],
                                    "logoutUrl": None}})
    sp: dict[str, Any] = {"id": (sp_id or str(uuid.uuid4())).lower(), "deletedDateTime": None,
          "accountEnabled": True, "appId": app_id, "applicationTemplateId": template_id,
          "appDisplayName": display_name, "alternativeNames": [],
          "appOwnerOrganizationId": tenant.id, "displayName": display_name,
          "appRoleAssignmentRequired": True, "loginUrl": None, "logoutUrl": None,
          "homepage": homepage, "notificationEmailAddresses": [],
          "preferredSingleSignOnMode": None, "replyUrls": [], "servicePrincipalNames": [app_id],
          "servicePrincipalType": "Application",
          "tags": ["WindowsAzureActiveDirectoryIntegratedApp"], "addIns": [], "appRoles": [role],
          "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None,
                   "supportUrl": None, "termsOfServiceUrl": None},
          "keyCredentials": [], "oauth2PermissionScopes": [], "passwordCredentials": [],
          "description": None, OWNERS: [owner_app_id] if owner_app_id else []}
    tenant.service_principals[sp["id"]] = sp
    return app, sp


def serve_sp(sp: dict) -> dict:
    """A servicePrincipal as Graph shows it (internal fields dropped)."""
    return {k: v for k, v in sp.items() if not k.startswith("_")}


def assign(tenant: Tenant, sp: dict, principal_id: str, app_role_id: str) -> dict:
    """Record an appRoleAssignment of `principal_id` (user or group) to `sp`; GraphHttpError if refused."""
    principal_id = principal_id.lower()
    kind = tenant.object_type(principal_id)
    if kind is None:
        raise not_found(principal_id)
    role_ids = {r["id"] for r in sp.get("appRoles") or []} | {DEFAULT_APP_ROLE}
    if app_role_id.lower() not in role_ids:
        raise bad_request("Permission being assigned was not found on application "
                          f"'{sp['id']}'. (appRoleId '{app_role_id}')")
    if any(a["resourceId"] == sp["id"] and a["principalId"] == principal_id
           and a["appRoleId"] == app_role_id.lower() for a in tenant.app_role_assignments):
        raise bad_request("Permission being assigned already exists on the object.")
    obj = tenant.users[principal_id] if kind == "user" else tenant.groups[principal_id]
    raw = uuid.UUID(principal_id).bytes_le + uuid.uuid4().bytes
    assignment = {"id": base64.urlsafe_b64encode(raw).decode().rstrip("="),
                  "deletedDateTime": None, "appRoleId": app_role_id.lower(),
                  "createdDateTime": now_iso(), "principalDisplayName": obj.get("displayName"),
                  "principalId": principal_id, "principalType": kind.title(),
                  "resourceDisplayName": sp["displayName"], "resourceId": sp["id"]}
    tenant.app_role_assignments.append(assignment)
    return assignment


def assignments_of(tenant: Tenant, sp_id: str) -> list[dict]:
    """The live assignments to the service principal `sp_id` (principal still exists), oldest first."""
    return [a for a in tenant.app_role_assignments
            if a["resourceId"] == sp_id and tenant.object_type(a["principalId"]) is not None]


def sp_or_404(req: GraphRequest, sp_id: str | None = None, app_id: str | None = None, *,
              owned: bool = True) -> dict:
    """The home tenant's service principal by id (or appId); 403 for an *.OwnedBy caller that
    does not own it (owned=False: serviceprincipal-get lets such a caller read every one)."""
    tenant = req.home_tenant
    if app_id is not None:
        sp = next((s for s in tenant.service_principals.values()
                   if s["appId"] == app_id.lower()), None)
    else:
        key = sp_id or ""
        sp = tenant.service_principals.get(key) or tenant.service_principals.get(key.lower())
    if sp is None:
        raise not_found(app_id or sp_id or "")
    if owned and req.owned_only and req.app_id.lower() not in sp.get(OWNERS, []) \
            and sp["appId"] != req.app_id.lower():
        raise GraphHttpError(403, DENIED_CODE, DENIED_MESSAGE)
    return sp


# -- handlers ----------------------------------------------------------------------------
def instantiate(req: GraphRequest, id: str) -> GraphResponse:
    """POST /applicationTemplates/{id}/instantiate: 201 applicationServicePrincipal."""
    template_id = id.lower()
    if template_id not in TEMPLATES:
        raise not_found(id)
    body = read_json_body(req)
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Invalid value specified for property 'displayName' of resource "
                          "'ApplicationServicePrincipal'.")
    if len(name) > 256:
        raise bad_request("Invalid value specified for property 'displayName' of resource "
                          "'ApplicationServicePrincipal'.")
    owner = req.app_id.lower() if req.owned_only else None
    app, sp = create_service_principal(req.home_tenant, name, template_id, owner_app_id=owner)
    application = {k: app.get(k) for k in (
        "id", "appId", "applicationTemplateId", "createdDateTime", "deletedDateTime",
        "displayName", "description", "identifierUris", "signInAudience", "tags", "appRoles",
        "web")}
    return GraphResponse(201, {"@odata.context": req.context(
        "microsoft.graph.applicationServicePrincipal"),
        "application": application, "servicePrincipal": serve_sp(sp)})


def list_service_principals(req: GraphRequest) -> GraphResponse:
    """GET /servicePrincipals (`$filter=displayName eq '...'` finds the sync application)."""
    t = req.home_tenant
    return respond_list(req, props=SERVICE_PRINCIPALS, ids=list(t.service_principals), keys=None,
                        get=t.service_principals.get,
                        project=lambda s, sel: project(s, sel or SP_DEFAULT, SERVICE_PRINCIPALS),
                        context="servicePrincipals")


def get_service_principal(req: GraphRequest, id: str | None = None,
                          app_id: str | None = None) -> GraphResponse:
    """GET /servicePrincipals/{id} and /servicePrincipals(appId='{appId}')."""
    sp = sp_or_404(req, id, app_id, owned=False)
    reject_unsupported(req.query)
    select = parse_select(req.query.get("$select"), SERVICE_PRINCIPALS)
    return GraphResponse(200, {"@odata.context": req.context("servicePrincipals/$entity"),
                               **project(sp, select or SP_DEFAULT, SERVICE_PRINCIPALS)})


def delete_service_principal(req: GraphRequest, id: str | None = None,
                             app_id: str | None = None) -> GraphResponse:
    """DELETE /servicePrincipals/{id} and /servicePrincipals(appId='{appId}'): 204
    (serviceprincipal-delete). Its synchronization jobs stop and go with it, as do its secrets and
    the app role assignments made to it; the application object stays (a separate object)."""
    sp = sp_or_404(req, id, app_id)
    tenant = req.home_tenant
    from tenantsync.emulator.sync_runner import runner_for  # the runner imports this module

    for job in [j for j in tenant.sync_jobs.values() if j.sp_id == sp["id"]]:
        runner_for(req.emu).delete(tenant, job)
        tenant.sync_jobs.pop(job.id, None)
    tenant.sync_secrets.pop(sp["id"], None)
    tenant.app_role_assignments[:] = [a for a in tenant.app_role_assignments
                                      if a.get("resourceId") != sp["id"]]
    tenant.service_principals.pop(sp["id"], None)
    return GraphResponse(204)


def _assigned_context(req: GraphRequest, sp: dict, entity: bool = False) -> str:
    return req.context(f"servicePrincipals('{sp['id']}')/appRoleAssignedTo"
                       + ("/$entity" if entity else ""))


def create_assignment(req: GraphRequest, id: str | None = None,
                      app_id: str | None = None) -> GraphResponse:
    """POST /servicePrincipals/{id}/appRoleAssignedTo: 201 appRoleAssignment."""
    sp = sp_or_404(req, id, app_id)
    body = read_json_body(req)
    values: dict[str, Any] = {}
    for key in ("principalId", "resourceId", "appRoleId"):
        value = body.get(key)
        if not apps.is_guid(value):
            raise bad_request(f"Invalid value specified for property '{key}' of resource "
                              "'AppRoleAssignment'.")
        values[key] = value.lower()
    if values["resourceId"] != sp["id"]:
        raise bad_request("Invalid value specified for property 'resourceId' of resource "
                          "'AppRoleAssignment': it must be the service principal of the URL.")
    assignment = assign(req.home_tenant, sp, values["principalId"], values["appRoleId"])
    return GraphResponse(201, {"@odata.context": _assigned_context(req, sp, entity=True),
                               **{k: assignment[k] for k in _ASSIGNMENT_FIELDS}})


def list_assignments(req: GraphRequest, id: str | None = None,
                     app_id: str | None = None) -> GraphResponse:
    """GET /servicePrincipals/{id}/appRoleAssignedTo (paged with $top and $skiptoken)."""
    sp = sp_or_404(req, id, app_id)
    found = assignments_of(req.home_tenant, sp["id"])
    by_id = {a["id"]: a for a in found}
    resp = respond_list(req, props=ASSIGNMENTS, ids=list(by_id), keys=None, get=by_id.get,
                        project=lambda a, sel: project(a, sel or _ASSIGNMENT_FIELDS, ASSIGNMENTS),
                        context=f"servicePrincipals('{sp['id']}')/appRoleAssignedTo")
    return resp


def delete_assignment(req: GraphRequest, assignment_id: str, id: str | None = None,
                      app_id: str | None = None) -> GraphResponse:
    """DELETE /servicePrincipals/{id}/appRoleAssignedTo/{assignment_id}: 204."""
    sp = sp_or_404(req, id, app_id)
    tenant = req.home_tenant
    for i, a in enumerate(tenant.app_role_assignments):
        if a["id"] == assignment_id and a["resourceId"] == sp["id"]:
            del tenant.app_role_assignments[i]
            return GraphResponse(204)
    raise not_found(assignment_id)


ASSIGNMENTS = PropertySet("microsoft.graph.appRoleAssignment", frozenset(_ASSIGNMENT_FIELDS),
                          _ASSIGNMENT_FIELDS, frozenset(), frozenset(_ASSIGNMENT_FIELDS))
