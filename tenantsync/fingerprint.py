"""A changed scope or mapping makes the next cycle a full one.

Entra restarts provisioning when its scope or mappings are saved: "A new initial cycle is triggered
because of a change in attribute mappings or scoping filters. This action also clears any stored
watermark and causes all source objects to be evaluated again" (how-provisioning-works, "Provisioning
cycles: Initial and incremental"); "Certain changes to the application's provisioning settings, such
as attribute mappings or scoping filters, will automatically restart provisioning for you"
(application-provisioning-quarantine-status). tenantsync has no "save" button: the configuration
file is read at each cycle, so the cycle compares a fingerprint of what decides who is synced and
how with the one the last completed cycle recorded in the state store.

Parts fingerprinted (each digest kept apart, so the message names what changed): the scope setting
(assigned / all), the assignments (ignored in mode all, where they decide nothing), the scoping
filters, the attribute mappings (the documented defaults included: a new tenantsync release that
changes them counts as a change) and the matching rule. Order does not count: filter groups are
OR-ed and clauses AND-ed, mappings are keyed by target attribute. Free-text notes do not count.

A changed fingerprint makes the next cycle an initial one: every user read and evaluated again,
delta links read anew, users no longer in scope deprovisioned under the empty-source abort and the
deletion threshold as in any initial cycle. Like a restart it does not wait for a quarantine's next
attempt; unlike ``--restart`` it keeps escrows (each escrowed user is evaluated again anyway).

Recorded only when a cycle completes: not by a dry run, not on demand, not while deletions are
staged or after an empty-source abort (the next cycle is then full again, so staged deletions are
seen again and ``--allow-deletes`` can apply them), never after a cycle that failed as a whole. The
first cycle of a configuration (or of a store from before fingerprints) records it silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .config import SyncConfig

PARTS = ("scope setting", "assignments", "scope filters", "attribute mappings", "matching")


def fingerprint(cfg: SyncConfig) -> dict[str, str]:
    """One digest per part of the configuration that decides who is synced and how."""
    scope = cfg.scope
    mappings = [m.model_dump(exclude={"note"}) for m in cfg.effective_mappings]
    parts: dict[str, Any] = {
        "scope setting": scope.mode,
        "assignments": None if scope.mode == "all" else {
            "users": sorted(set(scope.assignments.users)), "groups": sorted(set(scope.assignments.groups))},
        "scope filters": sorted(
            sorted([c.attribute, c.operator, None if c.value is None else str(c.value)] for c in group)
            for group in scope.filters),
        "attribute mappings": sorted((m for m in mappings if not m["matching"]), key=lambda m: m["target"]),
        "matching": sorted((m for m in mappings if m["matching"]), key=lambda m: m["target"]),
    }
    return {part: _digest(value) for part, value in parts.items()}


def changed_parts(recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> list[str]:
    """The parts that differ, in PARTS order; nothing when nothing was recorded yet. A part the
    recorded fingerprint lacks (added by a later tenantsync) is not a change."""
    if not recorded:
        return []
    return [p for p in PARTS if p in recorded and p in current and recorded[p] != current[p]]


def change_note(parts: list[str]) -> str:
    """What the cycle's message and log say."""
    return (f"configuration changed: {', '.join(parts)}: full cycle, every user in the source "
            "evaluated again and the delta links read anew (users no longer in scope are removed "
            "under the deletion threshold)")


class ConfigWatch:
    """The fingerprint of one cycle's configuration against the recorded one."""

    def __init__(self, cfg: SyncConfig, recorded: Mapping[str, str] | None):
        self.current = fingerprint(cfg)
        self.changed = changed_parts(recorded, self.current)
        self.first = not recorded

    @property
    def note(self) -> str:
        return change_note(self.changed) if self.changed else ""


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
