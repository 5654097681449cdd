"""The small protocols the stages are written against: a source, a target, a store.

``Cycle`` (tenantsync/cycle.py) receives one of each and builds none of them. The Entra target
(connectors/entra_target.py) and the application-directory target (usersource/target.py) both
implement ``Target``; each keeps its own concerns (invitations and anchors for Entra, the
invitation outbox and notifications for the directory) behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .model import Action


@runtime_checkable
class Target(Protocol):
    """Where planned actions are written. ``apply`` sets each action's status, error code and reason."""

    def apply(self, actions: Sequence[Action]) -> Sequence[Action]: ...


__all__ = ["Target"]
