"""POST /invitations as invitation-post and the invitation resource document it.

The product creates every target user by invitation: the response shape gives it the new user's
id, and the address rules decide which source users can never be invited (the cycle must report
Graph's refusal, not crash).
"""

from __future__ import annotations

import pytest

from tests.contract.doc import Case, auth, cases, context_is, error_of, expect, page, send

REDIRECT = "https://myapp.contoso.com"
STATUSES = {"PendingAcceptance", "Completed", "InProgress", "Error"}   # invitation resource
# invitation resource, invitedUserEmailAddress: "The following special characters are not
# permitted in the email address".
FORBIDDEN = "~!#$%^&*()+=[]{}\\/|;:\"<>?,"


def _created(resp) -> None:
    body = resp.json()
    context_is(body, "invitations/$entity")
    assert body["invitedUserEmailAddress"] == "admin@fabrikam.com"
    assert body["inviteRedirectUrl"] == REDIRECT
    assert body["inviteRedeemUrl"].startswith("https://")
    assert body["status"] in STATUSES
    assert body["sendInvitationMessage"] is False and body["resetRedemption"] is False
    assert set(body["invitedUser"]) >= {"id"} and body["invitedUser"]["id"]
    assert isinstance(body["invitedUserMessageInfo"], dict)


def _bad_request(resp) -> None:
    error_of(resp, 400)


INVITES = cases(
    Case("invitation-post", "201-created-example", method="POST", path="/invitations",
         body={"invitedUserEmailAddress": "admin@fabrikam.com", "inviteRedirectUrl": REDIRECT},
         status=201, check=_created),
    # Both properties are required by the page's request body table.
    Case("invitation-post", "400-missing-redirect-url", method="POST", path="/invitations",
         body={"invitedUserEmailAddress": "admin@fabrikam.com"}, status=400,
         check=_bad_request),
    Case("invitation-post", "400-missing-email-address", method="POST", path="/invitations",
         body={"inviteRedirectUrl": REDIRECT}, status=400, check=_bad_request),
)


@INVITES
def test_invitation(graph, case):
    send(graph, case)


@page("invitation-post", "invited-user-is-a-guest-with-the-address")
def test_invited_user(graph, doc_page):
    # "When the user is invited, a user entity (of userType Guest) is created".
    body = expect(graph.post("/invitations", headers=auth(), json={
        "invitedUserEmailAddress": "admin@fabrikam.com", "inviteRedirectUrl": REDIRECT,
        "invitedUserDisplayName": "Fabrikam Admin"}), 201)
    user = expect(graph.get(f"/users/{body['invitedUser']['id']}", headers=auth(),
                            params={"$select": "id,userType,mail,userPrincipalName,"
                                               "displayName"}), 200)
    assert user["userType"] == "Guest"
    assert user["mail"] == "admin@fabrikam.com"
    assert user["displayName"] == "Fabrikam Admin"
    # user-list example 8: a B2B guest's userPrincipalName always contains #EXT#.
    assert "#EXT#" in user["userPrincipalName"]


@pytest.mark.parametrize("char", [pytest.param(c, id=f"invitation:forbidden-{c}")
                                  for c in FORBIDDEN])
def test_forbidden_character(graph, char):
    resp = graph.post("/invitations", headers=auth(), json={
        "invitedUserEmailAddress": f"jo{char}hn@litware.com", "inviteRedirectUrl": REDIRECT})
    error_of(resp, 400)
    users = expect(graph.get("/users", headers=auth(), params={"$top": "999"}), 200)["value"]
    assert not any((u.get("mail") or "").endswith("hn@litware.com") for u in users)


@pytest.mark.parametrize("address", [
    pytest.param("o'brien@litware.com", id="invitation:apostrophe-permitted"),
    pytest.param("john.doe-smith@litware.com", id="invitation:inner-period-and-hyphen-permitted"),
    pytest.param("_john_@litware.com", id="invitation:underscore-at-both-ends-permitted"),
])
def test_permitted_address(graph, address):
    body = expect(graph.post("/invitations", headers=auth(), json={
        "invitedUserEmailAddress": address, "inviteRedirectUrl": REDIRECT}), 201)
    assert body["invitedUserEmailAddress"] == address


@pytest.mark.parametrize("address", [
    pytest.param(".john@litware.com", id="invitation:leading-period-refused"),
    pytest.param("john-@litware.com", id="invitation:trailing-hyphen-refused"),
])
def test_period_or_hyphen_at_the_ends(graph, address):
    # "A period (.) or a hyphen (-) is permitted anywhere in the user name, except at the
    # beginning or end of the name."
    error_of(graph.post("/invitations", headers=auth(), json={
        "invitedUserEmailAddress": address, "inviteRedirectUrl": REDIRECT}), 400)


@page("invitation", "member-invitation-refused-for-an-application")
def test_member_invitation(graph, doc_page):
    """invitation resource, invitedUserType: "By default, this is Guest. You can invite as Member
    if you are a company administrator." An app-only caller is not one; the page does not give
    the status, so the emulator's refusal is accepted as 400 or 403 (stricter than a Graph that
    might let a privileged application through)."""
    resp = graph.post("/invitations", headers=auth(), json={
        "invitedUserEmailAddress": "member@fabrikam.com", "inviteRedirectUrl": REDIRECT,
        "invitedUserType": "Member"})
    assert resp.status_code in (400, 403), resp.text[:300]
    error_of(resp, resp.status_code)
    users = expect(graph.get("/users", headers=auth(), params={"$top": "999"}), 200)["value"]
    assert "member@fabrikam.com" not in {u.get("mail") for u in users}
