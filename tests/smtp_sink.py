"""A local SMTP server (aiosmtpd) that keeps what it receives: notification and invitation tests."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from typing import Any

import pytest


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:   # aiosmtpd hook
        with self._cond:
            self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                     policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.host, sink.port = controller.hostname, controller.port  # type: ignore[attr-defined]
    yield sink
    controller.stop()
