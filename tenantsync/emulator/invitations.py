"""POST /invitations: the B2B invitation manager.

- The guest gets UPN `<local>_<domain>#EXT#@<defaultDomain>`, mail, userType Guest,
  externalUserState PendingAcceptance, creationType Invitation.
- invitedUserEmailAddress may not hold any of `~ ! # $ % ^ & * ( ) + = [ ] { } \\ / | ; : " < > ? ,`
  and its user name may not begin or end with `.` or `-` (invitation resource,
  invitedUserEmailAddress): 400 BadRequest.
- invitedUserType Member: "You can invite as Member if you are a company administrator"
  (invitation resource). Every emulator token is app-only, never an administrator: 403
  Authorization_RequestDenied (emulator decision: the status and wording Graph uses are not
  documented).
- The target's authorizationPolicy.allowInvitesFrom = none refuses (403 Authorization_RequestDenied);
  so does adminsAndGuestInviters, because "Application permissions (app-only) do not work if B2B
  invitations are disabled on the tenant or if B2B invitations are restricted to administrators"
  (invitation-post).
- Automatic redemption (state Accepted, invitation status Completed) when the address's home
  tenant (the tenant whose verified domains hold its domain) allows outbound automatic user
  consent to the target and the target allows it inbound from the home tenant. Entra's
  cross-tenant-access-overview ("Automatic redemption setting") and redemption-experience say the
  invitation is then redeemed automatically: no invitation email, no consent prompt, a
  notification "that requires no action" and users "don't need to access the tenant first".
  Nothing there keeps the user PendingAcceptance until a first sign-in, so the emulator redeems
  at invitation time; without automatic redemption the state stays PendingAcceptance until the
  guest accepts (redemption-experience), i.e. the control API's redeem.
- An address that already belongs to an external user of the target returns that user (no
  duplicate); if it is still pending and auto-redemption applies, it is redeemed then (the
  invitation manager "finds it by mail, auto-redeems").
- resetRedemption with invitedUser.id resets that user's redemption (PendingAcceptance again,
  or redeemed at once when automatic redemption applies).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from tenantsync.emulator.directory import Directory, Tenant
from tenantsync.emulator.limits import USER_MAX_LENGTHS
from tenantsync.emulator.protocol import (
    GraphHttpError,
    GraphRequest,
    GraphResponse,
    bad_request,
    not_found,
    now_iso,
    read_json_body,
)

FORBIDDEN_MESSAGE = ("Guest invitations not allowed for your company. Contact your company "
                     "administrator for more details.")
ADMINS_ONLY_MESSAGE = ("Guest invitations are restricted to administrators and guest inviters in "
                       "this tenant (allowInvitesFrom = adminsAndGuestInviters); application "
                       "permissions (app-only) do not work then (invitation-post).")
MEMBER_MESSAGE = ("Only a company administrator can invite a user as Member (invitation "
                  "resource, invitedUserType); an app-only token is not one. Invite as Guest, "
                  "then update userType. (tenantsync emulator wording: Graph's is not "
                  "documented.)")
# invitation resource, invitedUserEmailAddress: "The following special characters are not
# permitted in the email address".
FORBIDDEN_CHARACTERS = frozenset('~!#$%^&*()+=[]{}\\/|;:"<>?,')


def _consent(partner: dict | None, direction: str) -> bool:
    settings = (partner or {}).get("automaticUserConsentSettings") or {}
    return bool(settings.get(direction))


def auto_redeems(directory: Directory, target: Tenant, email: str) -> bool:
    """True when both tenants allow automatic redemption for `email` invited into `target`."""
    home = directory.home_tenant(email)
    if home is None or home is target:
        return False
    return (_consent(home.partners.get(target.id.lower()), "outboundAllowed")
            and _consent(target.partners.get(home.id.lower()), "inboundAllowed"))


def guest_upn(email: str, tenant: Tenant) -> str:
    """`john.doe@fabrikam.com` -> `john.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com`."""
    local, _, domain = email.rpartition("@")
    return f"{local}_{domain}#EXT#@{tenant.default_domain}"


def _existing_guest(tenant: Tenant, email: str) -> dict | None:
    for uid in sorted(tenant.lookup("mail", email) or ()):
        user = tenant.users[uid]
        if "#EXT#" in (user.get("userPrincipalName") or "").upper() \
                or user.get("userType") == "Guest" or user.get("creationType") == "Invitation":
            return user
    upn_owner = tenant.upn_index.get(guest_upn(email, tenant).lower())
    return tenant.users.get(upn_owner) if upn_owner else None


def address_problem(email: str) -> str | None:
    """Why invitation resource's rules refuse `email` as invitedUserEmailAddress, or None."""
    bad = sorted({c for c in email if c in FORBIDDEN_CHARACTERS})
    if bad:
        return ("The invited user email address contains characters that are not permitted: "
                + " ".join(f"'{c}'" for c in bad) + " (invitation resource, "
                "invitedUserEmailAddress).")
    local = email.rpartition("@")[0]
    if local[:1] in (".", "-") or local[-1:] in (".", "-"):
        return ("The invited user email address's user name may not begin or end with a period "
                "or a hyphen (invitation resource, invitedUserEmailAddress).")
    return None


def _redeem(tenant: Tenant, user: dict, accepted: bool) -> None:
    state = "Accepted" if accepted else "PendingAcceptance"
    if user.get("externalUserState") != state:
        tenant.update_user(user["id"], {"externalUserState": state,
                                        "externalUserStateChangeDateTime": now_iso()})


def create_invitation(req: GraphRequest) -> GraphResponse:
    """POST /invitations."""
    body = read_json_body(req)
    tenant = req.home_tenant
    email = body.get("invitedUserEmailAddress")
    redirect = body.get("inviteRedirectUrl")
    if not isinstance(email, str) or email.count("@") != 1 or email.startswith("@") \
            or email.endswith("@"):
        raise bad_request("The invited user email address is missing or invalid.", "BadRequest")
    problem = address_problem(email)
    if problem:      # the wording is the emulator's: the docs list the characters, not the error
        raise bad_request(problem, "BadRequest")
    if not isinstance(redirect, str) or not redirect:
        raise bad_request("The invite redirect URL is missing or invalid.", "BadRequest")
    allowed = str(tenant.authorization_policy.get("allowInvitesFrom", "everyone")).lower()
    if allowed == "none":
        raise GraphHttpError(403, "Authorization_RequestDenied", FORBIDDEN_MESSAGE)
    if allowed == "adminsandguestinviters":
        raise GraphHttpError(403, "Authorization_RequestDenied", ADMINS_ONLY_MESSAGE)
    name = body.get("invitedUserDisplayName")
    if name is not None and (not isinstance(name, str)
                             or len(name) > USER_MAX_LENGTHS["displayName"]):
        # it becomes the guest's displayName (user resource: "Maximum length is 256 characters")
        raise bad_request("Invalid value specified for property 'invitedUserDisplayName'.",
                          "BadRequest")
    user_type = body.get("invitedUserType") or "Guest"
    if user_type not in ("Guest", "Member"):
        raise bad_request("Invalid value specified for property 'invitedUserType'.", "BadRequest")
    if user_type == "Member":
        raise GraphHttpError(403, "Authorization_RequestDenied", MEMBER_MESSAGE)
    if email.rpartition("@")[2].lower() in tenant.domain_names():
        raise bad_request("The invited user's email domain is a verified domain of this "
                          "directory: invite an external address.", "BadRequest")
    automatic = auto_redeems(req.emu.directory, tenant, email)
    invited = body.get("invitedUser") or {}
    if body.get("resetRedemption") and isinstance(invited, dict) and invited.get("id"):
        user = tenant.find_user(str(invited["id"]))
        if user is None:
            raise not_found(str(invited["id"]))
        tenant.update_user(user["id"], {"mail": email})
        _redeem(tenant, user, automatic)
    else:
        user = _existing_guest(tenant, email)
        if user is None:
            upn = guest_upn(email, tenant)
            user = tenant.add_user({
                "id": str(uuid.uuid4()),
                "userPrincipalName": upn,
                "mailNickname": upn.split("@")[0],
                "displayName": body.get("invitedUserDisplayName") or email.split("@")[0],
                "mail": email,
                "otherMails": [email],
                "userType": user_type,
                "accountEnabled": True,
                "creationType": "Invitation",
                "externalUserState": "Accepted" if automatic else "PendingAcceptance",
                "externalUserStateChangeDateTime": now_iso(),
                "createdDateTime": now_iso(),
            })
        elif automatic and user.get("externalUserState") == "PendingAcceptance":
            _redeem(tenant, user, True)
    accepted = user.get("externalUserState") == "Accepted"
    invitation_id = str(uuid.uuid4())
    result = {
        "@odata.context": req.context("invitations/$entity"),
        "id": invitation_id,
        "inviteRedeemUrl": ("https://login.microsoftonline.com/redeem?rd=" +
                            quote(f"https://invitations.microsoft.com/redeem/?tenant={tenant.id}"
                                  f"&user={invitation_id}&ticket=emulated", safe="")),
        "invitedUserDisplayName": body.get("invitedUserDisplayName"),
        "invitedUserType": user_type,
        "invitedUserEmailAddress": email,
        "sendInvitationMessage": bool(body.get("sendInvitationMessage", False)),
        "resetRedemption": bool(body.get("resetRedemption", False)),
        "inviteRedirectUrl": redirect,
        "status": "Completed" if accepted else "PendingAcceptance",
        "invitedUserMessageInfo": body.get("invitedUserMessageInfo") or {
            "messageLanguage": None, "ccRecipients": [], "customizedMessageBody": None},
        "invitedUser": {"id": user["id"]},
    }
    tenant.invitations.append({k: v for k, v in result.items() if k != "@odata.context"})
    return GraphResponse(201, result)
