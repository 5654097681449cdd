"""A cycle stopped by a signal (Prefect's TerminationSignal is a BaseException) says it was
interrupted, rather than "cycle failed: TerminationSignal: " with an empty reason."""

from __future__ import annotations

from typing import Any

from tenantsync.recovery import close_failed


class _Store:
    def __init__(self) -> None:
        self.closed: dict[str, Any] = {}

    def logged_counts(self, config: str, cycle_id: str) -> dict[str, int]:
        return {"success": 3}

    def finish_cycle(self, config: str, cycle_id: str, **kw: Any) -> None:
        self.closed = {"config": config, "cycle_id": cycle_id, **kw}


class TerminationSignal(BaseException):
    """Like prefect.exceptions.TerminationSignal (the engine cannot import Prefect)."""


def test_a_termination_signal_is_recorded_as_an_interruption():
    store = _Store()
    close_failed(store, "emea-to-hq", "c1", TerminationSignal(), ["users delta link expired"], job=None)  # type: ignore[arg-type]
    assert store.closed["status"] == "failure"
    assert store.closed["error"] == "users delta link expired; cycle failed: interrupted (TerminationSignal)"
    assert store.closed["counts"] == {"success": 3}


def test_an_ordinary_error_keeps_its_message():
    store = _Store()
    close_failed(store, "emea-to-hq", "c1", ValueError("bad value"), [], job=None)  # type: ignore[arg-type]
    assert store.closed["error"] == "cycle failed: ValueError: bad value"
