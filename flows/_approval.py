"""The approval of staged deletions: the sync cycle's pause above the accidental-deletion threshold.

A cycle that plans more deletions (deletes and disables) than ``deletion_threshold`` stages them
(docs/entra-behaviour.md, accidental deletions): it lists them (pending-deletions.csv, a markdown
artifact) and waits for an administrator's decision in the run's Resume form (``DeletionApproval``,
its ``approve`` switch explained), at most ``approval_timeout_s`` seconds. How it waits depends on
where the run runs:

* **A deployment's run** (a worker): the run is *suspended* (Prefect's ``suspend_flow_run``) after
  its cycle has ended. The cycle finishes as without an approval: its other writes applied, the
  deletions staged in the state store (``ts_staged_deletions``, with the cycle's id), the job
  quarantined (``TooManyDeletes``), the watermarks left where they were and the configuration's
  lock released. Then the run leaves its worker: nothing of it lives in a process. The decision is
  kept by the Prefect server (the run's input, in its database) and the list by the state store,
  so a worker killed or restarted, or the server restarted, loses neither. Resumed, the run is
  scheduled again and a worker runs the flow from its start (``resumed`` below finds the
  decision): approved, it runs a new cycle of the configuration, which replans what it staged
  (watermarks were not advanced past staged deletions, so the same changes are read again) and
  applies the removals when every one of them is in the list approved (the rows the store kept for
  the suspended cycle, matched by source id and action); a list that differs (the source changed
  meanwhile) is staged again and the run is suspended again for the new list. Rejected: the run
  ends Quarantined, the deletions stay staged. Not resumed within ``approval_timeout_s``: Prefect's
  server fails the run ("The flow was paused and never resumed", its pause-expiration service);
  the deletions stay staged and the job quarantined, as after a timeout in a paused run.
* **A run without a deployment** (the command line's ``--wait-approval``, tests): the run
  *pauses* in its process (``pause_flow_run``), holding the configuration's lock (renewed, its
  note saying why it waits), and carries on with the decision: there is no worker to lose.

Why not a pause for deployments: a paused run keeps its process, so a worker killed with it loses
the decision (the run crashes, the cycle is closed as crashed by the next one and the approval
never comes). And a deployment with a concurrency limit lost its slot on Running -> Paused
(Prefect's ReleaseFlowConcurrencySlots, prefect/server/orchestration/core_policy.py), so the paused
run's next lease renewal (every 225 s: 0.75 of 300 s) got 410 and the run ended Crashed
("Concurrency lease renewal failed"; PrefectHQ/prefect#20251). The deployments no longer have a
concurrency limit either (flows/deploy.py): the configuration's lock serialises cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from prefect import get_run_logger, runtime
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Running
from pydantic import Field

from tenantsync import reports
from tenantsync.cycle import Cycle
from tenantsync.model import Action
from tenantsync.stages.guard import planned_reason
from tenantsync.store import Store
from tenantsync.uimarkdown import reasons_table

from ._common import artifact_key, file_uri

PREVIEW = 50            # staged deletions listed in the approval artifact
KEY = "deletion-approval"   # the pause key: KEY-<cycle id of the list shown>


class DeletionApproval(RunInput):
    """The form the Prefect UI shows when a cycle stops at the accidental-deletion threshold."""

    approve: bool = Field(False, title="Approve the staged deletions", description=(
        "Ticked: apply the staged deletions now: the portal's 'Allow deletes' (ForceDeletes, the "
        "command line's --allow-deletes). Left unticked: nothing is deleted; the deletions stay staged "
        "in pending-deletions.csv and the job stays quarantined (TooManyDeletes) until they are "
        "approved or the cause is fixed and the job restarted."))


@dataclass(frozen=True)
class Listed:
    """What ask_approval showed of a cycle's staged deletions: the form's text."""

    cycle_id: str
    count: int
    text: str


@dataclass(frozen=True)
class Resumed:
    """A decision given to a run suspended for approval: this execution is its resumption."""

    cycle_id: str           # the cycle whose staged list was shown
    approve: bool


def staged_action(a: Action) -> str:
    return "disable" if "accountEnabled" in a.changes else "delete"


def staged_rows(cycle: Cycle) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"sourceIdentity.id": a.source_id, "targetIdentity.id": a.target_id or "",
             "displayName": a.display_name, "action": staged_action(a),
             "reason": a.reason, "cycleId": cycle.cycle_id, "staged": now} for a in cycle.staged]


def list_staged(cycle: Cycle, reports_dir: str) -> Listed:
    """pending-deletions.csv (not in a dry run), its link and the markdown artifact of the list."""
    cfg, rows = cycle.cfg, staged_rows(cycle)
    csv_path: Path | None = None
    if not cycle.opt.dry_run:
        csv_path = reports.write_csv(rows, reports.PENDING_DELETION_COLUMNS,
                                     reports.config_dir(cfg.name, reports_dir) / "pending-deletions.csv").resolve()
        create_link_artifact(key=artifact_key(cfg.name, "pending-deletions"), link=file_uri(csv_path),
                             link_text=f"pending-deletions.csv ({len(rows)} staged)")
    threshold = cfg.settings.deletion_threshold
    head = (f"**{len(rows)} deletions** (deletes and disables) were planned in cycle `{cycle.cycle_id}` of "
            f"`{cfg.name}`, above the accidental-deletion threshold of {threshold}. None has been applied.")
    where = f"The full list is in `{csv_path}` ({file_uri(csv_path)})." if csv_path else "Dry run: nothing is kept."
    shown = rows[:PREVIEW]      # a narrow table, the reasons listed under it (tenantsync/uimarkdown.py)
    lines = [f"# Staged deletions: `{cfg.name}`", "", head, "", where, ""]
    lines += reasons_table(("Display name", "Action", "Source id", "Target id"),
                           [(r["displayName"], r["action"], r["sourceIdentity.id"], r["targetIdentity.id"])
                            for r in shown], [planned_reason(r["reason"]) for r in shown], unit="user")
    if len(rows) > PREVIEW:
        lines += ["", f"{len(rows) - PREVIEW} more in pending-deletions.csv."]
    create_markdown_artifact(key=artifact_key(cfg.name, "staged-deletions"), markdown="\n".join(lines),
                             description=f"{len(rows)} staged deletions")
    return Listed(cycle.cycle_id, len(rows), f"{head}\n\n{where}")


def form(listed: Listed) -> type[DeletionApproval]:
    return DeletionApproval.with_initial_data(
        description=f"{listed.text}\n\nTick **approve** (Approve the staged deletions) to apply them now: the "
                    "portal's 'Allow deletes'. Leave it unticked to keep them staged (the job stays quarantined "
                    "with reason TooManyDeletes).")      # no approve=...: it would drop the Field's text


def ask_approval(cycle: Cycle, timeout_s: int, reports_dir: str) -> bool:
    """List the staged deletions and pause in this process for a decision (a run without a
    deployment). True when an administrator approved; rejection and timeout leave them staged."""
    log = get_run_logger()
    listed = list_staged(cycle, reports_dir)
    if cycle.opt.dry_run or timeout_s <= 0:
        return False
    log.warning("%d deletions staged above the threshold of %d: waiting up to %d s for approval",
                listed.count, cycle.cfg.settings.deletion_threshold, timeout_s)
    try:
        answer = pause_flow_run(wait_for_input=form(listed), timeout=timeout_s,
                                poll_interval=1 if timeout_s <= 60 else 5, key=KEY)
    except FlowPauseTimeout:
        _back_to_running()
        log.warning("no decision within %d s: the deletions stay staged", timeout_s)
        return False
    log.info("staged deletions %s", "approved" if answer.approve else "rejected: they stay staged")
    return bool(answer.approve)


def _back_to_running() -> None:
    """After a pause times out the run is still Paused on the server: carry on to the end."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(runtime.flow_run.id, Running(message="approval timed out"), force=True)


# -- suspended runs (deployments) ------------------------------------------------------------------

def can_suspend(cycle: Cycle, timeout_s: int) -> bool:
    """A deployment's run that waits for a decision: it is suspended rather than paused."""
    return bool(runtime.deployment.id) and not cycle.opt.dry_run and timeout_s > 0


def suspend(listed: Listed, cfg_name: str, threshold: int, timeout_s: int) -> None:
    """Leave the worker until an administrator decides (at most timeout_s): raises Prefect's Pause,
    which ends this process's execution of the run. Called once the cycle is over (lock released)."""
    get_run_logger().warning(
        "%d deletions staged above the threshold of %d (cycle %s of %s): the run is suspended until they are "
        "approved or rejected in its Resume form, at most %d s; it leaves its worker, and the state store keeps "
        "the list", listed.count, threshold, listed.cycle_id, cfg_name, timeout_s)
    suspend_flow_run(wait_for_input=form(listed), timeout=timeout_s, key=f"{KEY}-{listed.cycle_id}")


def resumed() -> Resumed | None:
    """The decision when this execution resumes a run suspended for approval (the flow starts over
    once resumed), else None. The last suspension of the run is the one answered."""
    from prefect import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx else None
    if run is None or not run.deployment_id:
        return None
    if not any(k.startswith(f"{KEY}-") for k in run.empirical_policy.pause_keys or ()):
        return None
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run.id)
    asked = [s for s in sorted(states, key=lambda s: s.timestamp)
             if s.is_paused() and (s.state_details.pause_key or "").startswith(f"{KEY}-")]
    if not asked:
        return None
    cycle_id = str(asked[-1].state_details.pause_key).removeprefix(f"{KEY}-")
    try:       # the input the Resume form saved under the suspension's keys
        answer = cast(DeletionApproval, DeletionApproval.load(keyset_from_paused_state(asked[-1]), flow_run_id=run.id))
    except Exception as exc:      # resumed without the form's input: nothing approved
        get_run_logger().warning("the run was resumed without a decision (%s): the deletions stay staged", exc)
        return Resumed(cycle_id, False)
    return Resumed(cycle_id, bool(answer.approve))


def approved_list(store: Store, config: str, cycle_id: str) -> set[tuple[str, str]]:
    """(source id, action) of the deletions the state store keeps staged for cycle_id."""
    return {(r["source_id"], r["action"]) for r in store.staged(config) if r["cycle_id"] == cycle_id}


def covered(staged: Sequence[Action], approved: set[tuple[str, str]]) -> bool:
    """Every deletion staged (a cycle's ``staged``) was in the list approved."""
    return bool(staged) and {(a.source_id, staged_action(a)) for a in staged} <= approved
