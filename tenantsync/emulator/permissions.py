"""Application permissions per Graph route, checked after authentication, before throttling.

Why: Graph refuses a call whose access token lacks every application permission the operation's
documentation lists, with 403 `Authorization_RequestDenied` "Insufficient privileges to complete
the operation." An emulator that lets everything through hides missing permissions until a first
run against a real tenant. Each row below names the Graph v1.0 page whose Permissions table it
transcribes (the "Application" row); any one listed permission suffices, least or higher
privileged. A $batch is not checked itself: each of its items is, like any request.

Emulator decisions where the pages are silent:
- A `X.ReadWrite.Y` permission also grants what `X.Read.Y` grants (the permissions reference
  describes every ReadWrite permission as "read and write"). Some tables list only the least
  privileged permission per resource type (deletedItems pages); this keeps their higher
  privileged counterparts working.
- A narrow permission (e.g. User.EnableDisableAccount.All on Update user) is accepted only when
  the request writes nothing but the properties it is documented for.
- Application.ReadWrite.OwnedBy acts only on the caller's own application: the emulator treats
  every application as owned by its own service principal. Handlers check `req.owned_only`.
- A token without roles information (a plain fixture string) holds every permission.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenantsync.emulator.protocol import GraphRequest, GraphResponse, error_response

DENIED_CODE = "Authorization_RequestDenied"
DENIED_MESSAGE = "Insufficient privileges to complete the operation."
OWNED_BY = "Application.ReadWrite.OwnedBy"


@dataclass(frozen=True)
class Rule:
    """The application permissions of one operation; `page` is its Graph v1.0 page."""

    page: str
    any_of: tuple[str, ...]
    narrow: dict[str, frozenset[str]] = field(default_factory=dict)  # permission -> properties
    # "X and Y" rows (serviceprincipal-post-approleassignedto): one of these is needed as well
    and_one_of: tuple[str, ...] = ()


_USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All")
_PHONE_READ = ("UserAuthMethod-Phone.Read.All", "UserAuthenticationMethod.Read.All",
               "UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-Phone.ReadWrite.All")
_PHONE_WRITE = ("UserAuthMethod-Phone.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All")
_GROUP_READ = ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All",
               "Directory.Read.All", "Directory.ReadWrite.All")
_MEMBER_WRITE = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
_MANAGER_WRITE = ("User.ReadWrite.All", "Directory.ReadWrite.All")
_DOMAIN_READ = ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All")
_ORG_READ = ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
             "Directory.ReadWrite.All")
_CTAP_READ = ("Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess")
_CTAP_WRITE = ("Policy.ReadWrite.CrossTenantAccess",)
_APP_GET = ("Application.Read.All", OWNED_BY, "Application.ReadWrite.All")
_EXT_LIST = ("Application.Read.All", OWNED_BY, "Application.ReadWrite.All",
             "Directory.Read.All", "Directory.ReadWrite.All")

_PHONE = "/users/{id}/authentication/phoneMethods"
_PARTNERS = "/policies/crossTenantAccessPolicy/partners"
_SYNC = _PARTNERS + "/{tenant_id}/identitySynchronization"
_EXT = "/applications/{id}/extensionProperties"
# Synchronization pages: Application.ReadWrite.OwnedBy (least), then Synchronization.*.All
_SYNC_READ = (OWNED_BY, "Synchronization.Read.All", "Synchronization.ReadWrite.All")
_SYNC_WRITE = (OWNED_BY, "Synchronization.ReadWrite.All")
_SP_READ = ("Application.Read.All", OWNED_BY, "Application.ReadWrite.All", "Directory.Read.All",
            "Directory.ReadWrite.All")
_SP = "/servicePrincipals/{id}"
_JOBS = _SP + "/synchronization/jobs"
_JOB = _JOBS + "/{job_id}"

# (method, route template) -> rule. Every route of app.ROUTES has a row (tested).
RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/$batch"): Rule("json-batching (each item is checked on its own)", ()),
    ("GET", "/users/delta"): Rule("user-delta", _USER_READ),
    ("GET", "/users/$count"): Rule("user-list", _USER_READ),
    ("GET", "/users"): Rule("user-list", _USER_READ),
    ("POST", "/users"): Rule("user-post-users", ("User.ReadWrite.All", "Directory.ReadWrite.All")),
    ("GET", _PHONE): Rule("authentication-list-phonemethods", _PHONE_READ),
    ("GET", _PHONE + "/{method_id}"): Rule("phoneauthenticationmethod-get", _PHONE_READ),
    ("POST", _PHONE + "/{method_id}/disableSmsSignIn"):
        Rule("phoneauthenticationmethod-disablesmssignin", _PHONE_WRITE),
    ("POST", _PHONE + "/{method_id}/enableSmsSignIn"):
        Rule("phoneauthenticationmethod-enablesmssignin", _PHONE_WRITE),
    ("GET", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms"):
        Rule("smsauthenticationmethodconfiguration-get", ("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")),
    # user-list-manager (its $ref form too); user-post-manager and user-delete-manager list
    # User.ReadWrite.All, then Directory.ReadWrite.All
    ("GET", "/users/{id}/manager"): Rule("user-list-manager", _USER_READ),
    ("GET", "/users/{id}/manager/$ref"): Rule("user-list-manager", _USER_READ),
    ("PUT", "/users/{id}/manager/$ref"): Rule("user-post-manager", _MANAGER_WRITE),
    ("DELETE", "/users/{id}/manager/$ref"): Rule("user-delete-manager", _MANAGER_WRITE),
    # "Permissions for another user's direct memberships" (application permissions are not
    # supported on /me/memberOf only)
    ("GET", "/users/{id}/memberOf"):
        Rule("user-list-memberof", ("Directory.Read.All", "Directory.ReadWrite.All")),
    ("GET", "/users/{id}"): Rule("user-get", _USER_READ),
    # user-update: the narrow permissions are the table's User.ManageIdentities.All and
    # User.EnableDisableAccount.All, and those "What's new in Microsoft Graph" (December 2024)
    # published for single properties.
    ("PATCH", "/users/{id}"): Rule(
        "user-update", ("User.ReadWrite.All", "Directory.ReadWrite.All",
                        "User.ManageIdentities.All", "User.EnableDisableAccount.All",
                        "User-Mail.ReadWrite.All", "User-Phone.ReadWrite.All",
                        "User-PasswordProfile.ReadWrite.All"),
        {"User.ManageIdentities.All": frozenset({"identities"}),
         "User.EnableDisableAccount.All": frozenset({"accountEnabled"}),
         "User-Mail.ReadWrite.All": frozenset({"otherMails"}),
         "User-Phone.ReadWrite.All": frozenset({"businessPhones", "mobilePhone"}),
         "User-PasswordProfile.ReadWrite.All": frozenset({"passwordProfile"})}),
    # user-delete lists User.ReadWrite.All only (Directory.ReadWrite.All is not listed);
    # User.DeleteRestore.All per "What's new in Microsoft Graph" (December 2024).
    ("DELETE", "/users/{id}"): Rule("user-delete", ("User.ReadWrite.All",
                                                    "User.DeleteRestore.All")),
    # deletedItems pages give, per resource type, the least privileged permission (user:
    # User.Read.All); earlier versions of the page listed the user row in full.
    ("GET", "/directory/deletedItems/microsoft.graph.user"):
        Rule("directory-deleteditems-list", _USER_READ + ("User.DeleteRestore.All",)),
    ("GET", "/directory/deletedItems/{id}"): Rule("directory-deleteditems-get", _USER_READ),
    ("DELETE", "/directory/deletedItems/{id}"):
        Rule("directory-deleteditems-delete", ("User.DeleteRestore.All",)),
    ("POST", "/directory/deletedItems/{id}/restore"):
        Rule("directory-deleteditems-restore", ("User.DeleteRestore.All", "User.ReadWrite.All")),
    ("POST", "/directoryObjects/getByIds"): Rule("directoryobject-getbyids",
                                                 ("Directory.Read.All",)),
    ("POST", "/directoryObjects/getAvailableExtensionProperties"):
        Rule("directoryobject-getavailableextensionproperties", ("Directory.Read.All",)),
    ("GET", "/groups/delta"): Rule("group-delta", _GROUP_READ),
    ("GET", "/groups"): Rule("group-list", _GROUP_READ + ("Group-NestingSupport.ReadWrite.All",
                                                          "Group.ManageProtection.All")),
    ("POST", "/groups"): Rule("group-post-groups", ("Group.Create", "Group.ReadWrite.All",
                                                    "Directory.ReadWrite.All",
                                                    "Group-PreferredDataLocation.ReadWrite.All")),
    ("GET", "/groups/{id}/members"): Rule("group-list-members",
                                          _GROUP_READ + ("GroupMember.ReadWrite.All",)),
    # group-post-members gives GroupMember.ReadWrite.All for user and group members; the
    # higher privileged ones are those of group-delete-members.
    ("POST", "/groups/{id}/members/$ref"): Rule("group-post-members", _MEMBER_WRITE),
    ("DELETE", "/groups/{id}/members/{member_id}/$ref"): Rule("group-delete-members",
                                                              _MEMBER_WRITE),
    ("GET", "/groups/{id}"): Rule("group-get", _GROUP_READ),
    ("PATCH", "/groups/{id}"): Rule("group-update", (
        "Group.ReadWrite.All", "Directory.ReadWrite.All", "Group-NestingSupport.ReadWrite.All",
        "Group.ManageProtection.All", "Group-PreferredDataLocation.ReadWrite.All"),
        {"Group-PreferredDataLocation.ReadWrite.All": frozenset({"preferredDataLocation"})}),
    ("DELETE", "/groups/{id}"): Rule("group-delete", ("Group.ReadWrite.All",)),
    ("POST", "/invitations"): Rule("invitation-post", ("User.Invite.All", "User.ReadWrite.All",
                                                       "Directory.ReadWrite.All")),
    ("GET", "/domains"): Rule("domain-list", _DOMAIN_READ),
    ("GET", "/domains/{id}"): Rule("domain-get", _DOMAIN_READ),
    ("GET", "/organization"): Rule("organization-list", _ORG_READ),
    ("GET", "/organization/{id}"): Rule("organization-get", _ORG_READ),
    ("GET", "/policies/authorizationPolicy"):
        Rule("authorizationpolicy-get", ("Policy.Read.All", "Policy.ReadWrite.Authorization")),
    ("PATCH", "/policies/authorizationPolicy"):
        Rule("authorizationpolicy-update", ("Policy.ReadWrite.Authorization",)),
    # beta only (externalidentitiespolicy-get, beta)
    ("GET", "/beta/policies/externalIdentitiesPolicy"):
        Rule("externalidentitiespolicy-get", ("Policy.Read.All", "Policy.ReadWrite.ExternalIdentities")),
    ("GET", _PARTNERS): Rule("crosstenantaccesspolicy-list-partners", _CTAP_READ),
    ("POST", _PARTNERS): Rule("crosstenantaccesspolicy-post-partners", _CTAP_WRITE),
    ("GET", _SYNC): Rule("crosstenantidentitysyncpolicypartner-get", _CTAP_READ),
    ("PUT", _SYNC): Rule("crosstenantaccesspolicyconfigurationpartner-put-identitysynchronization",
                         _CTAP_WRITE),
    ("PATCH", _SYNC): Rule("crosstenantidentitysyncpolicypartner-update", _CTAP_WRITE),
    ("DELETE", _SYNC): Rule("crosstenantidentitysyncpolicypartner-delete", _CTAP_WRITE),
    ("GET", _PARTNERS + "/{tenant_id}"):
        Rule("crosstenantaccesspolicyconfigurationpartner-get", _CTAP_READ),
    ("PATCH", _PARTNERS + "/{tenant_id}"):
        Rule("crosstenantaccesspolicyconfigurationpartner-update", _CTAP_WRITE),
    ("DELETE", _PARTNERS + "/{tenant_id}"):
        Rule("crosstenantaccesspolicyconfigurationpartner-delete", _CTAP_WRITE),
    ("GET", "/applications"): Rule("application-list", _APP_GET + ("Directory.Read.All",)),
    ("GET", "/applications(appId='{app_id}')"): Rule("application-get", _APP_GET),
    ("GET", "/applications/{id}"): Rule("application-get", _APP_GET),
    ("GET", _EXT): Rule("application-list-extensionproperty", _EXT_LIST),
    ("POST", _EXT): Rule("application-post-extensionproperty",
                         (OWNED_BY, "Application.ReadWrite.All", "Directory.ReadWrite.All")),
    ("DELETE", _EXT + "/{ext_id}"): Rule("application-delete-extensionproperty",
                                         (OWNED_BY, "Application.ReadWrite.All")),
    ("POST", "/applicationTemplates/{id}/instantiate"):
        Rule("applicationtemplate-instantiate",
             (OWNED_BY, "Application.ReadWrite.All", "Directory.ReadWrite.All")),
    # serviceprincipal-list / -get: "Application.ReadWrite.OwnedBy ... to list all"
    ("GET", "/servicePrincipals"): Rule("serviceprincipal-list", _SP_READ),
    ("GET", "/servicePrincipals(appId='{app_id}')"): Rule("serviceprincipal-get", _SP_READ),
    ("GET", _SP): Rule("serviceprincipal-get", _SP_READ),
    ("DELETE", _SP): Rule("serviceprincipal-delete", (OWNED_BY, "Application.ReadWrite.All")),
    ("DELETE", "/servicePrincipals(appId='{app_id}')"):
        Rule("serviceprincipal-delete", (OWNED_BY, "Application.ReadWrite.All")),
    ("GET", _SP + "/appRoleAssignedTo"):
        Rule("serviceprincipal-list-approleassignedto",
             ("Application.Read.All", "Application.ReadWrite.All", OWNED_BY, "Directory.Read.All",
              "Directory.ReadWrite.All")),
    # "AppRoleAssignment.ReadWrite.All and Application.Read.All, AppRoleAssignment.ReadWrite.All
    # and Directory.Read.All"
    ("POST", _SP + "/appRoleAssignedTo"):
        Rule("serviceprincipal-post-approleassignedto", ("AppRoleAssignment.ReadWrite.All",),
             and_one_of=("Application.Read.All", "Directory.Read.All")),
    ("DELETE", _SP + "/appRoleAssignedTo/{assignment_id}"):
        Rule("serviceprincipal-delete-approleassignedto", ("AppRoleAssignment.ReadWrite.All",)),
    ("PUT", _SP + "/synchronization/secrets"):
        Rule("synchronization-serviceprincipal-put-synchronization", _SYNC_WRITE),
    # GET secrets has no v1.0 page: those of synchronization-synchronization-list-jobs
    ("GET", _SP + "/synchronization/secrets"):
        Rule("synchronization-synchronization-list-jobs", _SYNC_READ),
    ("POST", _JOBS + "/validateCredentials"):
        Rule("synchronization-synchronizationjob-validatecredentials", _SYNC_WRITE),
    ("POST", _JOB + "/validateCredentials"):
        Rule("synchronization-synchronizationjob-validatecredentials", _SYNC_WRITE),
    ("GET", _JOBS): Rule("synchronization-synchronization-list-jobs", _SYNC_READ),
    ("POST", _JOBS): Rule("synchronization-synchronization-post-jobs", _SYNC_WRITE),
    ("GET", _JOB): Rule("synchronization-synchronizationjob-get", _SYNC_READ),
    ("DELETE", _JOB): Rule("synchronization-synchronizationjob-delete", _SYNC_WRITE),
    # no v1.0 page (the SDKs' Update-MgServicePrincipalSynchronizationJob): those of start
    ("PATCH", _JOB): Rule("synchronization-synchronizationjob-start", _SYNC_WRITE),
    ("POST", _JOB + "/start"): Rule("synchronization-synchronizationjob-start", _SYNC_WRITE),
    ("POST", _JOB + "/pause"): Rule("synchronization-synchronizationjob-pause", _SYNC_WRITE),
    ("POST", _JOB + "/restart"): Rule("synchronization-synchronizationjob-restart", _SYNC_WRITE),
    ("GET", _JOB + "/schema"):
        Rule("synchronization-synchronizationschema-get",
             _SYNC_READ + ("CustomSecAttributeProvisioning.Read.All",
                           "CustomSecAttributeProvisioning.ReadWrite.All")),
    ("PUT", _JOB + "/schema"):
        Rule("synchronization-synchronizationschema-update",
             _SYNC_WRITE + ("CustomSecAttributeProvisioning.ReadWrite.All",)),
    ("POST", _JOB + "/provisionOnDemand"):
        Rule("synchronization-synchronizationjob-provisionondemand", _SYNC_WRITE),
    ("GET", "/auditLogs/provisioning"): Rule("provisioningobjectsummary-list", ("AuditLog.Read.All",)),
}


def holds(roles: frozenset[str], permission: str) -> bool:
    """Whether `roles` grant `permission` (a ReadWrite permission grants its Read counterpart)."""
    if permission in roles:
        return True
    if ".Read." in permission:
        return permission.replace(".Read.", ".ReadWrite.", 1) in roles
    return False


def denied(req: GraphRequest) -> GraphResponse:
    """Graph's answer to a call the token's permissions do not cover."""
    return error_response(req, 403, DENIED_CODE, DENIED_MESSAGE)


def check(req: GraphRequest, method: str, template: str) -> GraphResponse | None:
    """None when the request may proceed, else the 403 to answer. Sets `req.owned_only`."""
    roles = req.roles
    if roles is None:
        return None
    rule = RULES.get((method, template))
    if rule is None:                           # a route without a row: refuse, never allow
        return denied(req)
    if not rule.any_of:
        return None
    granted = [p for p in rule.any_of if holds(roles, p)]
    if not granted or (rule.and_one_of and not any(holds(roles, p) for p in rule.and_one_of)):
        return denied(req)
    broad = [p for p in granted if p not in rule.narrow]
    if not broad:
        allowed = {name.lower() for p in granted for name in rule.narrow[p]}
        body = req.body if isinstance(req.body, dict) else {}
        written = {k.lower() for k in body if not k.startswith("@odata.")}
        if not written or not written <= allowed:
            return denied(req)
    req.owned_only = all(p == OWNED_BY for p in broad) and bool(broad)
    return None


def required(method: str, template: str) -> tuple[str, ...]:
    """The permissions any one of which allows the operation (for reports and docs)."""
    rule = RULES.get((method, template))
    return rule.any_of if rule else ()
