"""The job's synchronizationStatus (docs/entra-behaviour.md#quarantine): quarantine entry, backoff,
release, notification.

Escrow thresholds are counted over the job, not per cycle (application-provisioning-quarantine-status,
"Escrow thresholds": "a job with 4,000 failures wouldn't go into quarantine"; restarting with
"clear escrows" is what "restart[s] the escrow counter that accrues toward quarantine status"):
- failures: the objects escrowed now (ts_escrows). An object is counted once however many cycles it
  failed in; it leaves the count when it succeeds, and a restart (resetScope Escrows) clears them all;
- reference failures (a manager that could not be set): counted apart (ts_reference_escrows), only
  toward the absolute 60,000 limit, as the page says;
- provisioning events, for the 40 % rule: the objects the job has provisioned or tried to since its
  state began, i.e. linked users plus escrowed users without a link (the page's examples count users:
  "30,000 users failed provisioning and 5,000 were successful"). Counted only when the rule is
  evaluated (5,000 to 40,000 failures), so a healthy job pays one small count per cycle.
The thresholds themselves are the pure stages.guard.escrow_quarantine_reason. A scheduled cycle after
which the counter is back under them lifts the quarantine (escrows leave it as their retries succeed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import remedies
from .config import SyncConfig
from .errors import GraphError, QuarantinedError
from .ports import JobStore
from .stages import guard
from .stages.guard import next_attempt, quarantine_expired
from .store import JobStatus, Quarantine

Notify = Callable[[str, str], None]          # (subject, body) -> sends to notification_email


class JobKeeper:
    def __init__(self, store: JobStore, cfg: SyncConfig, *, notify: Notify | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.store, self.cfg, self.notify = store, cfg, notify
        self.now = clock or (lambda: datetime.now(UTC))

    def check_due(self, *, ignore: bool = False) -> JobStatus:
        """A quarantined job only runs at its next attempt; after 28 days it is disabled."""
        job = self.store.job(self.cfg.name)
        if job.code == "Disabled" and not ignore:
            raise QuarantinedError(f"{self.cfg.name}: the job was disabled after 4 weeks in quarantine "
                                   "(reason " + (job.quarantine.reason if job.quarantine else "?") +
                                   "). Fix the cause, then run with --restart ("
                                   + remedies.ui_run(remedies.INITIAL, self.cfg.name) + ").")
        if job.code != "Quarantine" or job.quarantine is None or ignore:
            return job
        q, now = job.quarantine, self.now()
        if quarantine_expired(q.series_began, now):
            job.code = "Disabled"
            self.store.save_job(self.cfg.name, job)
            raise QuarantinedError(f"{self.cfg.name}: in quarantine since {q.series_began:%Y-%m-%d %H:%M} UTC "
                                   "for more than 4 weeks: the job is now disabled. Fix the cause and restart ("
                                   + remedies.restart(self.cfg.name) + ").")
        if now < q.next_attempt:
            raise QuarantinedError(f"{self.cfg.name} is quarantined until {q.next_attempt:%Y-%m-%d %H:%M} UTC "
                                   f"(reason {q.reason}). Fix the cause and run with --restart to retry now ("
                                   + remedies.ui_run(remedies.INITIAL, self.cfg.name) + ").")
        return job

    def enter_quarantine(self, reason: str, error: GraphError | str | None = None) -> JobStatus:
        job, now = self.store.job(self.cfg.name), self.now()
        err = ({"code": error.code, "message": error.message, "tenantActionable": True}
               if isinstance(error, GraphError) else ({"code": reason, "message": error} if error else None))
        if job.quarantine is None:
            q = Quarantine(current_began=now, next_attempt=now, reason=reason, series_began=now,
                           series_count=1, error=err)
        else:
            prev = job.quarantine
            q = Quarantine(current_began=now, next_attempt=now, reason=reason, series_began=prev.series_began,
                           series_count=prev.series_count + 1, error=err)
        q.next_attempt = next_attempt(q.series_began, q.series_count)
        if q.next_attempt <= now:
            q.next_attempt = next_attempt(now, 1)
        job.code, job.quarantine, job.last_execution = "Quarantine", q, now
        job.count_successive_complete_failures += 1
        if job.notified_reason != reason:
            self._notify(reason, q)
            job.notified_reason = reason
        self.store.save_job(self.cfg.name, job)
        return job

    def after_cycle(self, c: Mapping[str, int], *, quarantine_reason: str | None, dry_run: bool,
                    message: str = "") -> JobStatus:
        if dry_run:
            return self.store.job(self.cfg.name)
        failures = c.get("failure", 0)
        escrows = job_escrows(self.store, self.cfg.name) if not quarantine_reason else None
        reason = quarantine_reason or (escrows.reason() if escrows else None)
        if reason:
            return self.enter_quarantine(reason, message or (escrows.describe() if escrows else reason))
        job, now = self.store.job(self.cfg.name), self.now()
        job.code, job.quarantine, job.notified_reason = "Active", None, None   # success lifts quarantine
        job.last_execution = now
        if not failures:
            job.last_successful_execution = now
            job.count_successive_complete_failures = 0
        self.store.save_job(self.cfg.name, job)
        return job

    def _notify(self, reason: str, q: Quarantine) -> None:
        subject = f"tenantsync: {self.cfg.name} has been quarantined ({reason})"
        body = (f"Provisioning for configuration '{self.cfg.name}' has been quarantined.\n"
                f"Reason: {reason}\nSince: {q.current_began:%Y-%m-%d %H:%M} UTC\n"
                f"Next attempt: {q.next_attempt:%Y-%m-%d %H:%M} UTC\n"
                f"Error: {(q.error or {}).get('message', '')}\n\n" + what_to_do(reason, self.cfg.name))
        self.store.record_notification(self.cfg.name, "quarantine", subject, body,
                                       self.cfg.settings.notification_email)
        if self.notify and self.cfg.settings.notification_email:
            self.notify(subject, body)

    @staticmethod
    def describe(job: JobStatus) -> dict[str, Any]:
        q = job.quarantine
        return {"code": job.code,
                "quarantine": None if q is None else {
                    "currentBegan": q.current_began.isoformat(), "nextAttempt": q.next_attempt.isoformat(),
                    "reason": q.reason, "seriesBegan": q.series_began.isoformat(),
                    "seriesCount": q.series_count, "error": q.error}}

    @staticmethod
    def summary(job: JobStatus) -> str:
        if job.code == "Quarantine" and job.quarantine:
            q = job.quarantine
            return (f"Quarantined ({q.reason}) until {q.next_attempt:%Y-%m-%d %H:%M} UTC. "
                    + what_to_do(q.reason))
        return f"Job status: {job.code}."


def _what_to_do(name: str) -> dict[str, str]:
    """The advice per quarantine reason (application-provisioning-quarantine-status, "How do I get my
    application out of quarantine?"), with the command line and the Prefect UI's route."""
    restart = f"restart ({remedies.restart(name)})"
    return {
        "EncounteredQuarantineException": "Check the connection's credentials and permissions "
                                          f"({remedies.check_connection(name)}), then {restart}.",
        "TooManyDeletes": "Review pending-deletions.csv. If the deletions are expected, approve them "
                          f"({remedies.allow_deletes(name)}); otherwise fix the cause and {restart}.",
        "EncounteredEscrowProportionThreshold": "More than 40 % of the users this job provisioned or tried "
                                                "to are in escrow (failing): read the provisioning log's "
                                                f"error codes, fix them, then {restart}.",
        "EncounteredBaseEscrowThreshold": "More than 40,000 users are in escrow (failing): read the "
                                          f"provisioning log's error codes, fix them, then {restart}.",
        "EncounteredTotalEscrowThreshold": "More than 60,000 failures are in escrow, reference attributes "
                                           f"(manager) included: read the provisioning log, fix, then {restart}.",
        "default": f"Read the provisioning log, fix the cause, then restart ({remedies.restart(name)}).",
    }


WHAT_TO_DO = _what_to_do(remedies.CONFIG)


def what_to_do(reason: str, name: str = remedies.CONFIG) -> str:
    """The advice for a quarantine reason; ``name`` (the configuration's) names its deployments."""
    advice = _what_to_do(name)
    return advice.get(reason, advice["default"])



@dataclass(frozen=True, slots=True)
class JobEscrows:
    """The job's escrow counter (module docstring)."""

    failed: int             # objects escrowed now
    reference: int          # reference attributes escrowed now (manager)
    objects: int = 0        # objects provisioned or tried since the job's state began (0: not counted)

    def reason(self) -> str | None:
        return guard.escrow_quarantine_reason(self.failed, self.reference, max(self.objects, self.failed))

    def describe(self) -> str:
        text = f"{self.failed} objects in escrow over the job's cycles"
        if self.objects:
            text += f", of {self.objects} provisioned or attempted"
        if self.reference:
            text += f", and {self.reference} reference attribute failures (manager)"
        return text + " (escrow thresholds: quarantine status documentation)"


def job_escrows(store: JobStore, config: str) -> JobEscrows:
    failed, reference = store.count_escrows(config), store.count_reference_escrows(config)
    evaluated = guard.ESCROW_EVALUATION_MIN <= failed <= guard.ESCROW_BASE_LIMIT
    return JobEscrows(failed, reference, store.count_job_objects(config) if evaluated else 0)
