"""User source: Entra ID refusing the run (credentials, permissions) is an "Entra ID unreachable"
notification that names what to fix, e-mailed through SMTP like any other."""

from __future__ import annotations

from tenantsync.usersource import run_user_source

from .usworld import TENANT, make_config, smtp_sender, world

SUBJECT = "[tenantsync] Corp Example: Entra ID unreachable"


def test_refused_credentials_notify_naming_the_token_to_fix(tenant, directory_url, smtp_sink, monkeypatch):
    monkeypatch.setenv("US_SRC_TOKEN", "an-expired-token")
    cfg = make_config(tenant, directory_url)
    result = run_user_source(cfg, notify=smtp_sender(smtp_sink.host, smtp_sink.port))
    assert result.status == "failure" and "refused the credentials" in result.message
    (note,) = result.details["notifications"]
    assert (note["kind"], note["subject"], note["emailed"]) == ("entra_unreachable", SUBJECT, True)
    assert note["details"]["reason"] == "credentials refused" and note["details"]["status"] == 401
    (mail,) = smtp_sink.wait(1)
    assert mail["Subject"] == SUBJECT and mail["To"] == "ops@corp.example"
    body = mail.get_content()
    assert "refused the credentials" in body and "InvalidAuthenticationToken" in body
    assert "$US_SRC_TOKEN" in body and "connections.corp.auth" in body and TENANT in body
    assert "an-expired-token" not in body                  # the secret itself never
    assert directory_users(cfg) == 0


def test_a_missing_permission_notifies_naming_the_permission(tenant, directory_url, smtp_sink, monkeypatch):
    # the token reads users but not group memberships: the groups round is refused (403)
    fixture = world()
    fixture["tenants"][0]["tokens"] = [{"token": "us-users-only", "appId": "0e5c0000-0000-4000-8000-00000000a001",
                                        "roles": ["User.Read.All"]}]
    tenant.reset(fixture)
    monkeypatch.setenv("US_SRC_TOKEN", "us-users-only")
    cfg = make_config(tenant, directory_url, auto_invite=False)      # the only e-mail: the notification
    result = run_user_source(cfg, notify=smtp_sender(smtp_sink.host, smtp_sink.port))
    assert result.status == "failure" and result.counts["users_created"] == 5   # users were read
    (note,) = result.details["notifications"]
    assert note["kind"] == "entra_unreachable" and note["details"]["reason"] == "permission missing"
    assert note["details"]["call"] == "GET /groups/delta"
    (mail,) = smtp_sink.wait(1)
    body = mail.get_content()
    assert "Authorization_RequestDenied" in body
    assert "needs the application permission GroupMember.Read.All" in body and "group-delta" in body
    assert f"Grant it (Application) to the connection's application in tenant {TENANT}" in body


def directory_users(cfg) -> int:
    from tenantsync.connectors.directory_target import DirectoryTarget

    return len(DirectoryTarget.for_url(cfg.directory_url).users(cfg.name))
