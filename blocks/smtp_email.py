"""An SMTP server for tenantsync's e-mails: quarantine notifications and user-source invitations."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

from tenantsync.ops.notify import send_email


class SmtpEmailBlock(Block):
    """Where tenantsync sends e-mail (stdlib smtplib; STARTTLS and login when configured)."""

    _block_type_name = "tenantsync SMTP e-mail"
    _block_type_slug = "tenantsync-smtp-email"
    _description = ("SMTP server used for quarantine notifications and user-source invitation "
                    "e-mails. Save it as 'tenantsync-smtp' (or the name in a configuration's settings).")

    host: str = Field("localhost", description="SMTP server host.")
    port: int = Field(25, description="SMTP server port (587 for submission with STARTTLS).")
    username: str | None = Field(None, description="Login name; no login when empty.")
    password: SecretStr = Field(default_factory=lambda: SecretStr(""),    # masked in the UI's form
                                description="Login password.")
    from_address: str = Field("tenantsync@localhost", description="Sender address.")
    starttls: bool = Field(False, description="Upgrade the connection with STARTTLS before login.")
    timeout_s: float = Field(30.0, description="Connection timeout in seconds.")

    @field_validator("password", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value          # a block saved when the field was Optional

    def send(self, to: str | list[str], subject: str, body: str) -> None:
        """Send one plain-text message (tenantsync.ops.notify.send_email); raises SMTP/OS errors."""
        send_email(self.host, self.port, self.from_address, to, subject, body, username=self.username,
                   password=self.password.get_secret_value() if self.password else None,
                   starttls=self.starttls, timeout=self.timeout_s)

    def notifier(self, to: str | list[str] | None):
        """``notify(subject, body)`` for the engine, sending to ``to``; None without a recipient."""
        if not to:
            return None
        return lambda subject, body: self.send(to, subject, body)
