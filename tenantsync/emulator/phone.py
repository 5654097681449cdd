"""/users/{id}/authentication/phoneMethods: the mobile method and its SMS sign-in state.

A user "has" a mobile phone method when the fixture gives it an smsSignInState (or a phoneNumber,
a fixture-only field); the number shown is that phoneNumber, else the user's mobilePhone, else a
fictitious +1 555 number derived from the user id.
"""

from __future__ import annotations

import zlib

from tenantsync.emulator.protocol import GraphHttpError, GraphRequest, GraphResponse, not_found

MOBILE_METHOD_ID = "3179e48a-750b-4051-897c-87b9720928f7"


def _user_id(req: GraphRequest, id: str) -> str:
    user = req.home_tenant.find_user(id)
    if user is None:
        raise not_found(id)
    return user["id"]


def mobile_method(req: GraphRequest, uid: str) -> dict | None:
    """The user's mobile phoneAuthenticationMethod, or None."""
    extra = req.home_tenant.fixture_fields.get(uid) or {}
    if extra.get("smsSignInState") is None and not extra.get("phoneNumber"):
        return None
    user = req.home_tenant.users[uid]
    number = extra.get("phoneNumber") or user.get("mobilePhone") \
        or f"+1 555{zlib.crc32(uid.encode()) % 10_000_000:07d}"
    return {"id": MOBILE_METHOD_ID, "phoneNumber": number, "phoneType": "mobile",
            "smsSignInState": extra.get("smsSignInState") or "notConfigured"}


def _method_or_404(req: GraphRequest, uid: str, method_id: str) -> dict:
    method = mobile_method(req, uid)
    if method is None or method_id.lower() != MOBILE_METHOD_ID:
        raise GraphHttpError(404, "itemNotFound", f"Authentication method '{method_id}' was not "
                             "found for this user.")
    return method


def list_phone_methods(req: GraphRequest, id: str) -> GraphResponse:
    """GET /users/{id}/authentication/phoneMethods."""
    uid = _user_id(req, id)
    method = mobile_method(req, uid)
    return GraphResponse(200, {
        "@odata.context": req.context(f"users('{uid}')/authentication/phoneMethods"),
        "value": [method] if method else []})


def get_phone_method(req: GraphRequest, id: str, method_id: str) -> GraphResponse:
    """GET /users/{id}/authentication/phoneMethods/{method_id}."""
    uid = _user_id(req, id)
    method = _method_or_404(req, uid, method_id)
    return GraphResponse(200, {
        "@odata.context": req.context(f"users('{uid}')/authentication/phoneMethods/$entity"),
        **method})


def _set_sms(req: GraphRequest, id: str, method_id: str, state: str) -> GraphResponse:
    uid = _user_id(req, id)
    _method_or_404(req, uid, method_id)
    req.home_tenant.fixture_fields.setdefault(uid, {})["smsSignInState"] = state
    return GraphResponse(204)


def disable_sms_sign_in(req: GraphRequest, id: str, method_id: str) -> GraphResponse:
    """POST .../phoneMethods/{method_id}/disableSmsSignIn; 204."""
    return _set_sms(req, id, method_id, "notEnabled")


def enable_sms_sign_in(req: GraphRequest, id: str, method_id: str) -> GraphResponse:
    """POST .../phoneMethods/{method_id}/enableSmsSignIn; 204."""
    return _set_sms(req, id, method_id, "ready")


# States a mobile method can have only where the SMS policy lets its user sign in with SMS
# (phoneauthenticationmethod: smsSignInState; notAllowedByPolicy is the state of everyone else).
SIGN_IN_ALLOWED_STATES = frozenset({"ready", "notEnabled", "phoneNumberNotUnique"})
SMS_POLICY_ROUTE = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms"


def get_sms_configuration(req: GraphRequest) -> GraphResponse:
    """GET .../authenticationMethodConfigurations/sms (smsauthenticationmethodconfiguration-get).

    Emulator decision: the fixture has no policy of its own; it is derived from the users' SMS
    sign-in states, so that the two always agree: SMS is enabled for all users, usable for sign-in
    when any user's mobile method has a state that only an allowing policy gives
    (SIGN_IN_ALLOWED_STATES), else not (every user is then notAllowedByPolicy or has no method).
    The body is the resource itself (the page's example shows it inside "value").
    """
    usable = any((f.get("smsSignInState") in SIGN_IN_ALLOWED_STATES)
                 for f in req.home_tenant.fixture_fields.values())
    return GraphResponse(200, {
        "@odata.context": req.context("policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity"),
        "@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration",
        "id": "Sms", "state": "enabled",
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False,
                            "isUsableForSignIn": usable}],
        "excludeTargets": []})
