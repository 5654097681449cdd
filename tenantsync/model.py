"""The few shared types that travel between stages; plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ActionKind = Literal["create", "update", "delete", "disable", "stagedDelete", "other"]
Status = Literal["success", "failure", "skipped", "warning"]


@dataclass(frozen=True, slots=True)
class Change:
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Step:
    """One provisioning step, as in provisionOnDemand and the provisioning log."""

    name: str                 # EntryImport, EntrySynchronizationScoping, EntryImportMatching, EntryExport...
    type: str                 # import | scoping | matching | processing | export
    status: Status
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provisioningStepType": self.type, "status": self.status,
                "description": self.description, "details": self.details}


@dataclass(frozen=True, slots=True)
class ScopeResult:
    in_scope: bool
    rules: tuple[tuple[str, bool], ...]      # ("Scoping filter 1.department EQUALS 'Sales'", True)
    skip_reason: str | None = None           # NotEffectivelyEntitled, ...
    description: str = ""
    error: str | None = None                 # a filter could not be evaluated: a failure, not out of scope


@dataclass(slots=True)
class Action:
    """What the engine will do (or did) to one target object, and why."""

    kind: ActionKind
    source_id: str
    target_id: str | None
    display_name: str = ""
    changes: dict[str, Change] = field(default_factory=dict)
    reason: str = ""
    status: Status = "success"
    error_code: str = ""
    steps: list[Step] = field(default_factory=list)
    # what the target connector needs to carry the action out
    invite_email: str | None = None
    invite_type: str = "Guest"
    restore: bool = False
    hard_delete: bool = False
    target_display_name: str = ""
    logged: bool = False             # its provisioning-log row is written (rows stream out per page/batch)

    @property
    def is_write(self) -> bool:
        return self.kind in ("create", "update", "delete", "disable") and self.status != "skipped"

    @property
    def is_removal(self) -> bool:
        return self.kind in ("delete", "disable")


# What a logged action keeps of its steps and changes (Cycle.log): one shared empty list and dict
# instead of two new ones per action (a restart of 100,000 users holds 100,000 actions). Shared,
# so they refuse any change, loudly.
def _refuse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    raise TypeError("the steps and changes of a logged action are read-only")


class _NoSteps(list):  # type: ignore[type-arg]
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class _NoChanges(dict):  # type: ignore[type-arg]
    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _refuse


NO_STEPS: list[Step] = _NoSteps()
NO_CHANGES: dict[str, Change] = _NoChanges()
