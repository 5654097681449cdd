"""Applications and directory extensions: /applications, extensionProperties, available ones.

Why: a directory extension exists only once registered on an application
(application-post-extensionproperty), under the name `extension_<appId without dashes>_<name>`;
Graph refuses any other `extension_*` name on users and groups. The emulator keeps the same
rule so that a product which writes an unregistered anchor fails here, not in a real tenant.

Registered names are case-sensitive and unique per application. Deleting a definition
(application-delete-extensionproperty) makes the name unknown again; the values users held under
it are dropped with it (the docs are silent on what happens to them; they can no longer be read).
Decisions where the docs are silent: an extension's short name is letters, digits and `_` (so the
full name is a valid property name in $select/$filter); an application is owned by its own
service principal (Application.ReadWrite.OwnedBy acts on the caller's application only).
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime
from typing import TypeGuard

from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.listing import reject_unsupported, respond_list
from tenantsync.emulator.odata import parse_select, project
from tenantsync.emulator.permissions import DENIED_CODE, DENIED_MESSAGE
from tenantsync.emulator.protocol import GraphHttpError, GraphRequest, GraphResponse, bad_request, not_found, now_iso
from tenantsync.emulator.schema import GROUPS, USERS, PropertySet

# dataType and targetObjects values: application-post-extensionproperty
DATA_TYPES = ("Binary", "Boolean", "DateTime", "Integer", "LargeInteger", "String")
TARGET_OBJECTS = ("User", "Group", "AdministrativeUnit", "Application", "Device", "Organization")
_SHORT_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

APPLICATION_PROPERTIES = frozenset({"id", "appId", "displayName", "createdDateTime",
                                    "deletedDateTime", "signInAudience", "description"})
APPLICATION_DEFAULT = ("id", "deletedDateTime", "appId", "createdDateTime", "description",
                       "displayName", "signInAudience")
APPLICATIONS = PropertySet("microsoft.graph.application", APPLICATION_PROPERTIES,
                           APPLICATION_DEFAULT, frozenset(), frozenset({"id", "appId"}))
_EXTENSION_FIELDS = ("id", "deletedDateTime", "appDisplayName", "dataType", "isMultiValued",
                     "isSyncedFromOnPremises", "name", "targetObjects")


def is_guid(value: object) -> TypeGuard[str]:
    """A GUID in its usual 8-4-4-4-12 spelling."""
    return isinstance(value, str) and bool(_GUID.match(value))


def extension_name(app_id: str, short: str) -> str:
    """The registered name: extension_<appId without dashes>_<name>."""
    return f"extension_{app_id.replace('-', '').lower()}_{short}"


# -- state -------------------------------------------------------------------------------
def add_application(tenant: Tenant, app_id: str, display_name: str | None = None,
                    object_id: str | None = None) -> dict:
    """Create an application object (object id derived from tenant and appId when not given)."""
    app_id = app_id.lower()
    seed = f"tenantsync-emulator-application:{tenant.id}:{app_id}"
    object_id = object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
    app = {"id": object_id, "appId": app_id,
           "displayName": display_name or f"tenantsync app {app_id[:8]}",
           "createdDateTime": now_iso(), "deletedDateTime": None, "description": None,
           "signInAudience": "AzureADMyOrg"}
    tenant.applications[object_id] = app
    return app


def find_by_app_id(tenant: Tenant, app_id: str) -> dict | None:
    """The tenant's application whose appId is `app_id` (case-insensitive)."""
    want = app_id.lower()
    return next((a for a in tenant.applications.values() if a["appId"] == want), None)


def refresh_properties(tenant: Tenant) -> None:
    """Rebuild the tenant's user and group property sets from its registered extensions."""
    by_target: dict[str, dict[str, dict]] = {"User": {}, "Group": {}}
    for ext in tenant.extensions.values():
        for target in ext["targetObjects"]:
            if target in by_target:
                by_target[target][ext["name"]] = ext
    tenant.user_props = USERS.with_extensions(by_target["User"])
    tenant.group_props = GROUPS.with_extensions(by_target["Group"])


def _invalid(field: str) -> GraphHttpError:
    return bad_request(f"Invalid value specified for property '{field}' of resource "
                       "'ExtensionProperty'.")


def register_extension(tenant: Tenant, app: dict, body: object) -> dict:
    """Validate an extensionProperty body and register it on `app`; GraphHttpError if refused."""
    if not isinstance(body, dict):
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type "
                          "header is set and payload is of valid JSON format.", "BadRequest")
    for key in body:
        if key not in ("name", "dataType", "targetObjects", "isMultiValued", "@odata.type"):
            raise bad_request(f"Property '{key}' does not exist as a declared property or "
                              "extension property.")
    short = body.get("name")
    if not isinstance(short, str) or not _SHORT_NAME.match(short):
        raise _invalid("name")
    data_type = next((t for t in DATA_TYPES if isinstance(body.get("dataType"), str)
                      and t.lower() == body["dataType"].lower()), None)
    if data_type is None:
        raise _invalid("dataType")
    targets = body.get("targetObjects")
    if not isinstance(targets, list) or not targets or any(t not in TARGET_OBJECTS
                                                           for t in targets):
        raise _invalid("targetObjects")
    multi = body.get("isMultiValued", False)
    if not isinstance(multi, bool):
        raise _invalid("isMultiValued")
    name = extension_name(app["appId"], short)
    if any(e["name"].lower() == name.lower() and e["appObjectId"] == app["id"]
           for e in tenant.extensions.values()):
        raise bad_request(f"An extension property exists with the name {name}.",
                          "Request_MultipleObjectsWithSameKeyValue")
    seed = f"tenantsync-emulator-extension:{app['id']}:{name}"     # stable across reloads
    ext_id = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
    ext = {"id": ext_id, "deletedDateTime": None,
           "appDisplayName": app["displayName"], "dataType": data_type, "isMultiValued": multi,
           "isSyncedFromOnPremises": False, "name": name,
           "targetObjects": list(dict.fromkeys(targets)), "appObjectId": app["id"]}
    tenant.extensions[ext["id"]] = ext
    refresh_properties(tenant)
    return ext


def delete_extension(tenant: Tenant, ext: dict) -> None:
    """Remove a definition; its name becomes unknown and the values stored under it go."""
    del tenant.extensions[ext["id"]]
    name = ext["name"]
    for objects in (tenant.users, tenant.deleted, tenant.groups):
        for obj in objects.values():
            obj.pop(name, None)
    tenant.indexes.pop(name, None)
    refresh_properties(tenant)


_INT_RANGE = {"Integer": 2 ** 31, "LargeInteger": 2 ** 63}


def valid_extension_value(ext: dict, value: object) -> bool:
    """Whether `value` fits the definition's dataType (and isMultiValued); null clears it.

    Limits from the extensionProperty resource: String 256 characters, Binary 256 bytes (base64
    in JSON), Integer 32-bit, LargeInteger 64-bit, DateTime ISO 8601."""
    if value is None:
        return True
    if ext["isMultiValued"]:
        return isinstance(value, list) and all(_valid_scalar(ext["dataType"], v) for v in value)
    return _valid_scalar(ext["dataType"], value)


def _valid_scalar(data_type: str, value: object) -> bool:
    if data_type == "String":
        return isinstance(value, str) and len(value) <= 256
    if data_type == "Boolean":
        return isinstance(value, bool)
    if data_type in _INT_RANGE:
        bound = _INT_RANGE[data_type]
        return isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    if data_type == "DateTime":
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if data_type == "Binary":
        try:
            return isinstance(value, str) and len(base64.b64decode(value, validate=True)) <= 256
        except ValueError:
            return False
    return False


def serve_extension(ext: dict) -> dict:
    """An extensionProperty as Graph shows it."""
    return {k: ext[k] for k in _EXTENSION_FIELDS}


# -- handlers ----------------------------------------------------------------------------
def _app_or_404(req: GraphRequest, id: str | None, app_id: str | None) -> dict:
    t = req.home_tenant
    key = app_id if app_id is not None else id
    if key is None:
        raise TypeError("the route gives the application's {id} or its appId")
    if app_id is not None:
        app = find_by_app_id(t, key)
    else:
        app = t.applications.get(key) or t.applications.get(key.lower())
    if app is None:
        raise not_found(key)
    if req.owned_only and app["appId"] != req.app_id.lower():
        raise GraphHttpError(403, DENIED_CODE, DENIED_MESSAGE)
    return app


def list_applications(req: GraphRequest) -> GraphResponse:
    """GET /applications (`$filter=appId eq '<guid>'` finds one by appId)."""
    t = req.home_tenant
    ids = list(t.applications)
    if req.owned_only:
        ids = [i for i in ids if t.applications[i]["appId"] == req.app_id.lower()]
    return respond_list(req, props=APPLICATIONS, ids=ids, keys=None, get=t.applications.get,
                        project=lambda a, s: project(a, s or APPLICATION_DEFAULT, APPLICATIONS),
                        context="applications")


def get_application(req: GraphRequest, id: str | None = None,
                    app_id: str | None = None) -> GraphResponse:
    """GET /applications/{id} and GET /applications(appId='{appId}')."""
    app = _app_or_404(req, id, app_id)
    reject_unsupported(req.query)
    select = parse_select(req.query.get("$select"), APPLICATIONS)
    return GraphResponse(200, {"@odata.context": req.context("applications/$entity"),
                               **project(app, select or APPLICATION_DEFAULT, APPLICATIONS)})


def list_extension_properties(req: GraphRequest, id: str | None = None,
                              app_id: str | None = None) -> GraphResponse:
    """GET /applications/{id}/extensionProperties."""
    app = _app_or_404(req, id, app_id)
    values = [serve_extension(e) for e in req.home_tenant.extensions.values()
              if e["appObjectId"] == app["id"]]
    flt = req.query.get("$filter")
    if flt:                                    # the page supports $filter (eq on name) only
        m = re.fullmatch(r"\s*name\s+eq\s+'((?:[^']|'')*)'\s*", flt, re.IGNORECASE)
        if not m:
            raise bad_request(f"Unsupported query filter clause '{flt}' (only name eq '...').",
                              "Request_UnsupportedQuery")
        values = [v for v in values if v["name"] == m.group(1).replace("''", "'")]
    return GraphResponse(200, {"@odata.context": req.context(
        f"applications('{app['id']}')/extensionProperties"), "value": values})


def create_extension_property(req: GraphRequest, id: str | None = None,
                              app_id: str | None = None) -> GraphResponse:
    """POST /applications/{id}/extensionProperties: 201 with the definition."""
    app = _app_or_404(req, id, app_id)
    ext = register_extension(req.home_tenant, app, req.body)
    return GraphResponse(201, {"@odata.context": req.context(
        f"applications('{app['id']}')/extensionProperties/$entity"), **serve_extension(ext)})


def delete_extension_property(req: GraphRequest, ext_id: str, id: str | None = None,
                              app_id: str | None = None) -> GraphResponse:
    """DELETE /applications/{id}/extensionProperties/{ext_id}: 204."""
    app = _app_or_404(req, id, app_id)
    ext = req.home_tenant.extensions.get(ext_id) or req.home_tenant.extensions.get(ext_id.lower())
    if ext is None or ext["appObjectId"] != app["id"]:
        raise not_found(ext_id)
    delete_extension(req.home_tenant, ext)
    return GraphResponse(204)


def get_available_extension_properties(req: GraphRequest) -> GraphResponse:
    """POST /directoryObjects/getAvailableExtensionProperties: every definition in the tenant."""
    body = req.body if req.body is not None else {}
    if not isinstance(body, dict):
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type "
                          "header is set and payload is of valid JSON format.", "BadRequest")
    synced = body.get("isSyncedFromOnPremises")
    if synced is not None and not isinstance(synced, bool):
        raise bad_request("Invalid value specified for property 'isSyncedFromOnPremises'.")
    values = [{"@odata.type": "#microsoft.graph.extensionProperty", **serve_extension(e)}
              for e in req.home_tenant.extensions.values()
              if synced is None or e["isSyncedFromOnPremises"] == synced]
    return GraphResponse(200, {"@odata.context": req.context("Collection(extensionProperty)"),
                               "value": values})

