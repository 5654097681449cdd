"""An approval applies only the list it was given (flows/_approval.py): a resumed run's cycle
applies its staged removals when each of them, with its action, is among the rows the state
store kept staged for the cycle whose list the administrator saw; anything else waits for its
own approval."""

from __future__ import annotations

from pathlib import Path

from flows._approval import approved_list, covered
from tenantsync.model import Action, Change
from tenantsync.store import Store

CONFIG = "emea-to-hq"


def _staged(*pairs: tuple[str, str]) -> list[Action]:
    """What a cycle's decide staged: these (source id, action) removals."""
    return [Action("stagedDelete", sid, f"t-{sid}", changes={"accountEnabled": Change(True, False)}
                   if how == "disable" else {}, status="skipped") for sid, how in pairs]


def _store(tmp_path: Path, cycle_id: str, *pairs: tuple[str, str]) -> Store:
    store = Store(f"sqlite:///{(tmp_path / 'state.db').as_posix()}")
    store.stage_deletions(CONFIG, cycle_id, [{"source_id": sid, "target_id": f"t-{sid}", "action": how,
                                              "reason": "left the scope", "displayName": sid} for sid, how in pairs])
    return store


def test_the_list_approved_is_the_stored_list_of_the_cycle_shown(tmp_path: Path) -> None:
    store = _store(tmp_path, "cycle-x", ("a", "delete"), ("b", "delete"), ("c", "disable"))
    approved = approved_list(store, CONFIG, "cycle-x")
    assert approved == {("a", "delete"), ("b", "delete"), ("c", "disable")}

    assert covered(_staged(("a", "delete"), ("b", "delete"), ("c", "disable")), approved)    # the same list
    assert covered(_staged(("a", "delete"), ("c", "disable")), approved)      # fewer: one came back in scope
    assert not covered(_staged(("a", "delete"), ("d", "delete")), approved)   # one more: never approved
    assert not covered(_staged(("a", "disable")), approved)                   # another action than approved
    assert not covered(_staged(), approved)                                    # nothing staged: nothing to approve


def test_a_list_staged_again_by_a_later_cycle_needs_its_own_approval(tmp_path: Path) -> None:
    store = _store(tmp_path, "cycle-x", ("a", "delete"))
    store.stage_deletions(CONFIG, "cycle-y", [{"source_id": "a", "target_id": "t-a", "action": "delete",
                                               "reason": "left the scope", "displayName": "a"}])
    assert approved_list(store, CONFIG, "cycle-x") == set()
    assert not covered(_staged(("a", "delete")), approved_list(store, CONFIG, "cycle-x"))
    assert covered(_staged(("a", "delete")), approved_list(store, CONFIG, "cycle-y"))
