"""The quarantine notification e-mail (application-provisioning-quarantine-status;
docs/entra-behaviour.md#quarantine-notification), sent over plain SMTP with the stdlib.

The engine's JobKeeper calls ``notify(subject, body)`` once on entering quarantine and once when
the reason changes; ``SmtpNotifier`` is that callable. The Prefect e-mail block wraps the same
``send_email`` function, so the tests (a local SMTP sink) and production send the same message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

DEFAULT_SENDER = "tenantsync-noreply@localhost"


def build_message(sender: str, to: Sequence[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body)
    return msg


def send_email(host: str, port: int, sender: str, to: str | Sequence[str], subject: str, body: str, *,
               username: str | None = None, password: str | None = None, starttls: bool = False,
               use_ssl: bool = False, timeout: float = 30.0) -> None:
    """Send one text e-mail. Raises ``smtplib.SMTPException`` / ``OSError`` on failure.

    The password is only handed to ``SMTP.login``; it never appears in a message or a log.
    """
    recipients = _recipients(to)
    if not recipients:
        raise ValueError("send_email: no recipient (set settings.notification_email)")
    msg = build_message(sender, recipients, subject, body)
    smtp_cls = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
    with smtp_cls(host, port, timeout=timeout) as smtp:
        if starttls and not use_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, password or "")
        smtp.send_message(msg, from_addr=sender, to_addrs=recipients)


def _recipients(to: str | Sequence[str]) -> list[str]:
    items = to.replace(";", ",").split(",") if isinstance(to, str) else list(to)
    return [a.strip() for a in items if a and a.strip()]


@dataclass
class SmtpNotifier:
    """``notify(subject, body)`` for the engine: one e-mail to ``to`` through an SMTP server."""

    host: str
    port: int
    sender: str = DEFAULT_SENDER
    to: str | Sequence[str] = field(default_factory=list)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 30.0

    def __call__(self, subject: str, body: str) -> None:
        send_email(self.host, self.port, self.sender, self.to, subject, body, username=self.username,
                   password=self.password, starttls=self.starttls, use_ssl=self.use_ssl,
                   timeout=self.timeout)

    def for_recipient(self, to: str | Sequence[str] | None) -> SmtpNotifier:
        """The same server, another recipient (a configuration's ``notification_email``)."""
        if not to:
            return self
        return SmtpNotifier(self.host, self.port, self.sender, to, self.username, self.password,
                            self.starttls, self.use_ssl, self.timeout)


def notifier_for(cfg: object, host: str, port: int, sender: str = DEFAULT_SENDER,
                 **smtp: object) -> SmtpNotifier | None:
    """The notifier of one configuration (to its ``settings.notification_email``), or None."""
    to = getattr(getattr(cfg, "settings", None), "notification_email", None)
    if not to:
        return None
    return SmtpNotifier(host, port, sender, to, **smtp)  # type: ignore[arg-type]


__all__ = ["SmtpNotifier", "build_message", "notifier_for", "send_email"]
