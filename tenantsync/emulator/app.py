"""The route table, and the ASGI application that puts Graph and the control API together.

/v1.0/... (and /beta/..., whose routes are the beta-only resources: templates under /beta) is
served by asgi.py (a thin raw-ASGI layer); /_emulator/... by a Starlette app
(control.py). Repeated slashes are collapsed everywhere, because SDK base-URL mistakes produce
`/v1.0//users`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tenantsync.emulator import (
    applications,
    batch,
    control,
    delta,
    groups,
    invitations,
    leave,
    manager,
    phone,
    policies,
    provisioning_logs,
    service_principals,
    synchronization,
    users,
)
from tenantsync.emulator.asgi import send_error, serve_graph
from tenantsync.emulator.core import Emulator
from tenantsync.emulator.faults import FaultSpec
from tenantsync.emulator.routing import Route, Router

_PHONE = "/users/{id}/authentication/phoneMethods"
_PARTNERS = "/policies/crossTenantAccessPolicy/partners"
_SYNC = _PARTNERS + "/{tenant_id}/identitySynchronization"
_APP_BY_APP_ID = "/applications(appId='{app_id}')"       # application-get: alternate key
_EXT = "/applications/{id}/extensionProperties"
_EXT_BY_APP_ID = _APP_BY_APP_ID + "/extensionProperties"
_SP = "/servicePrincipals/{id}"
_SP_BY_APP_ID = "/servicePrincipals(appId='{app_id}')"
_ASSIGNED = _SP + "/appRoleAssignedTo"
_JOBS = _SP + "/synchronization/jobs"
_JOB = _JOBS + "/{job_id}"

# Literal routes before parameterised ones: the first match wins.
ROUTES: list[Route] = [
    Route("POST", "/$batch", batch.handle_batch),
    Route("GET", "/users/delta", delta.users_delta, ("/users/delta()",)),
    Route("GET", "/users/$count", users.count_users),
    Route("GET", "/users", users.list_users),
    Route("POST", "/users", users.create_user),
    Route("GET", _PHONE, phone.list_phone_methods),
    Route("GET", _PHONE + "/{method_id}", phone.get_phone_method),
    Route("POST", _PHONE + "/{method_id}/disableSmsSignIn", phone.disable_sms_sign_in),
    Route("POST", _PHONE + "/{method_id}/enableSmsSignIn", phone.enable_sms_sign_in),
    Route("GET", phone.SMS_POLICY_ROUTE, phone.get_sms_configuration),
    Route("GET", "/users/{id}/memberOf", groups.list_member_of),
    Route("GET", "/users/{id}/manager", manager.get_manager),
    Route("GET", "/users/{id}/manager/$ref", manager.get_manager_ref),
    Route("PUT", "/users/{id}/manager/$ref", manager.put_manager_ref),
    Route("DELETE", "/users/{id}/manager/$ref", manager.delete_manager_ref),
    Route("GET", "/users/{id}", users.get_user),
    Route("PATCH", "/users/{id}", users.update_user),
    Route("DELETE", "/users/{id}", users.delete_user),
    Route("GET", "/directory/deletedItems/microsoft.graph.user", users.list_deleted_users,
          ("/directory/deletedItems/graph.user",)),
    Route("GET", "/directory/deletedItems/{id}", users.get_deleted_item),
    Route("DELETE", "/directory/deletedItems/{id}", users.delete_deleted_item),
    Route("POST", "/directory/deletedItems/{id}/restore", users.restore_deleted_item),
    Route("POST", "/directoryObjects/getByIds", users.get_by_ids),
    Route("POST", "/directoryObjects/getAvailableExtensionProperties",
          applications.get_available_extension_properties),
    Route("GET", "/applications", applications.list_applications),
    Route("GET", _APP_BY_APP_ID, applications.get_application),
    Route("GET", "/applications/{id}", applications.get_application),
    Route("GET", _EXT, applications.list_extension_properties, (_EXT_BY_APP_ID,)),
    Route("POST", _EXT, applications.create_extension_property, (_EXT_BY_APP_ID,)),
    Route("DELETE", _EXT + "/{ext_id}", applications.delete_extension_property,
          (_EXT_BY_APP_ID + "/{ext_id}",)),
    Route("GET", "/groups/delta", delta.groups_delta, ("/groups/delta()",)),
    Route("GET", "/groups", groups.list_groups),
    Route("POST", "/groups", groups.create_group),
    Route("GET", "/groups/{id}/members", groups.list_members),
    Route("POST", "/groups/{id}/members/$ref", groups.add_member_ref),
    Route("DELETE", "/groups/{id}/members/{member_id}/$ref", groups.remove_member_ref),
    Route("GET", "/groups/{id}", groups.get_group),
    Route("PATCH", "/groups/{id}", groups.update_group),
    Route("DELETE", "/groups/{id}", groups.delete_group),
    Route("POST", "/invitations", invitations.create_invitation),
    Route("GET", "/domains", policies.list_domains),
    Route("GET", "/domains/{id}", policies.get_domain),
    Route("GET", "/organization", policies.list_organization),
    Route("GET", "/organization/{id}", policies.get_organization),
    Route("GET", "/policies/authorizationPolicy", policies.get_authorization_policy,
          ("/policies/authorizationPolicy/authorizationPolicy",)),
    Route("PATCH", "/policies/authorizationPolicy", policies.update_authorization_policy,
          ("/policies/authorizationPolicy/authorizationPolicy",)),
    Route("GET", leave.POLICY_ROUTE, leave.get_external_identities_policy),
    Route("GET", _PARTNERS, policies.list_partners),
    Route("POST", _PARTNERS, policies.create_partner),
    Route("GET", _SYNC, policies.get_identity_sync),
    Route("PUT", _SYNC, policies.put_identity_sync),
    Route("PATCH", _SYNC, policies.update_identity_sync),
    Route("DELETE", _SYNC, policies.delete_identity_sync),
    Route("GET", _PARTNERS + "/{tenant_id}", policies.get_partner),
    Route("PATCH", _PARTNERS + "/{tenant_id}", policies.update_partner),
    Route("DELETE", _PARTNERS + "/{tenant_id}", policies.delete_partner),
    # Microsoft's provisioning service (service_principals.py, synchronization.py)
    Route("POST", "/applicationTemplates/{id}/instantiate", service_principals.instantiate),
    Route("GET", "/servicePrincipals", service_principals.list_service_principals),
    Route("GET", _SP_BY_APP_ID, service_principals.get_service_principal),
    Route("GET", _SP, service_principals.get_service_principal),
    Route("DELETE", _SP_BY_APP_ID, service_principals.delete_service_principal),
    Route("DELETE", _SP, service_principals.delete_service_principal),
    Route("GET", _ASSIGNED, service_principals.list_assignments),
    Route("POST", _ASSIGNED, service_principals.create_assignment),
    Route("DELETE", _ASSIGNED + "/{assignment_id}", service_principals.delete_assignment),
    Route("GET", _SP + "/synchronization/secrets", synchronization.get_secrets),
    Route("PUT", _SP + "/synchronization/secrets", synchronization.put_secrets),
    Route("POST", _JOBS + "/validateCredentials", synchronization.validate_credentials),
    Route("GET", _JOBS, synchronization.list_jobs),
    Route("POST", _JOBS, synchronization.create_job),
    Route("GET", _JOB, synchronization.get_job),
    Route("DELETE", _JOB, synchronization.delete_job),
    Route("PATCH", _JOB, synchronization.update_job),
    Route("POST", _JOB + "/validateCredentials", synchronization.validate_credentials),
    Route("POST", _JOB + "/start", synchronization.start_job),
    Route("POST", _JOB + "/pause", synchronization.pause_job),
    Route("POST", _JOB + "/restart", synchronization.restart_job),
    Route("GET", _JOB + "/schema", synchronization.get_schema),
    Route("PUT", _JOB + "/schema", synchronization.put_schema),
    Route("POST", _JOB + "/provisionOnDemand", synchronization.provision_on_demand),
    Route("GET", "/auditLogs/provisioning", provisioning_logs.list_provisioning),
]
ROUTER = Router(ROUTES)

_SLASHES = re.compile(r"/{2,}")
_VERSIONS = ("v1.0", "beta")

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]],
                   Awaitable[None]]


def create_emulator(fixture: dict | str | Path | None, *, throttle: str | None = None,
                    time_scale: float = 1.0, faults: str | dict | FaultSpec | None = None,
                    latency_ms: int = 0, delta_token_ttl: float | None = None) -> Emulator:
    """An Emulator wired to the route table."""
    return Emulator(fixture, router=ROUTER, throttle=throttle, time_scale=time_scale,
                    faults=faults, latency_ms=latency_ms, delta_token_ttl=delta_token_ttl)


def build_app(emulator: Emulator) -> ASGIApp:
    """The ASGI application serving `emulator`."""
    control_app = Starlette(routes=control.routes(),
                            exception_handlers=control.exception_handlers())
    control_app.state.emulator = emulator

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if "//" in path:
                path = _SLASHES.sub("/", path)
                scope = {**scope, "path": path}
            head = path[1:].split("/", 1)[0]
            version = head.lower()
            if version in _VERSIONS:
                if head != version:                # /V1.0/users: the version in any case
                    scope = {**scope, "path": "/" + version + path[1 + len(head):]}
                await serve_graph(emulator, scope, receive, send)
                return
            if head != "_emulator":
                # Graph answers a path outside its versions (graph.microsoft.com/me,
                # /v1.0None/...) 400 "Invalid version." in its error JSON (msgraph-sample-blazor-
                # clientside #94, python-o365 #889), never a plain-text 404.
                await send_error(scope, send, 400, "BadRequest", "Invalid version.")
                return
        await control_app(scope, receive, send)

    app.emulator = emulator  # type: ignore[attr-defined]
    return app
