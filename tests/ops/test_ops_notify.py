"""The notification e-mail goes out over SMTP to the configuration's notification_email."""

from __future__ import annotations

import pytest

from tenantsync.ops.notify import SmtpNotifier, notifier_for, send_email


def test_smtp_notifier_delivers_subject_body_and_recipients(smtp_sink):
    notify = SmtpNotifier(smtp_sink.host, smtp_sink.port, "tenantsync@example.com",
                          "ops@example.com, second@example.com")
    notify("tenantsync: x has been quarantined (TooManyDeletes)", "Reason: TooManyDeletes\nÄrger, ok.")
    [msg] = smtp_sink.wait(1)
    assert msg["Subject"] == "tenantsync: x has been quarantined (TooManyDeletes)"
    assert msg["From"] == "tenantsync@example.com"
    assert "Reason: TooManyDeletes" in msg.get_payload(decode=True).decode("utf-8")
    assert smtp_sink.envelopes[0][1] == ["ops@example.com", "second@example.com"]


def test_notifier_for_a_configuration_without_notification_email_is_none():
    class Cfg:
        class settings:
            notification_email = None

    assert notifier_for(Cfg(), "127.0.0.1", 25) is None


def test_send_email_without_recipient_is_refused():
    with pytest.raises(ValueError, match="no recipient"):
        send_email("127.0.0.1", 25, "a@example.com", "", "s", "b")


def test_password_never_shows_in_repr():
    assert "hunter2" not in repr(SmtpNotifier("h", 25, "a@b", "c@d", username="u", password="hunter2"))
