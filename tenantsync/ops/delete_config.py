"""Delete a configuration (``tenantsync delete-config``): the engine's part, without Prefect.

What Entra does when a configuration is deleted ("Delete a configuration", Configure cross-tenant
synchronization) is to stop it; the users it synchronized stay in the target as they are ("If the
sync relationship is severed, are external users who were previously managed by cross-tenant
synchronization deleted in the target tenant? No.", Cross-tenant synchronization overview FAQ). So:

- no Graph call at all: nothing is read from or written to either tenant. With ``provisioner: entra``
  the one exception: the configuration's synchronization job is deleted in the source tenant, so
  Microsoft's service stops (synchronization-synchronizationjob-delete); the sync application is kept
  unless ``delete_application`` asks (tenantsync/entra_service/verbs.py says why);
- the state is archived, never dropped: every row of the configuration is copied into a new SQLite
  store (same tables, ``<archive dir>/<name>-<UTC time>.db``), the copy is checked row count by row
  count, and only then is the configuration marked deleted in its own store. The rows stay in place
  (reports keep reading them; a restore only lifts the mark); the archive is the copy that survives
  the store being reused, moved or removed;
- the reports folder is not touched;
- a later cycle (sync, provision on demand, repair) is refused, naming the restore
  (store/deleted.py: ConfigDeleted);
- the Prefect layer (flows/delete_config.py) pauses the configuration's deployments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tenantsync import remedies
from tenantsync.config import SyncConfig
from tenantsync.errors import TenantSyncError
from tenantsync.store import Store
from tenantsync.store.deleted import default_archive_dir, deleted_configs, restore_hint
from tenantsync.store.sql import utcnow

DEFAULT_REPORTS_DIR = "data/reports"


@dataclass
class DeletionPlan:
    """What deleting ``config`` does, read from its store before anything changes."""

    config: str
    state: str                       # the store's URL, password hidden
    archive: str                     # the archive store file to write
    rows: dict[str, int]             # rows per table, all copied to the archive
    links: int                       # synced users, left as they are in the target
    staged: int                      # deletions staged over the threshold: never applied
    reports: str                     # the reports folder, left as it is
    report_files: int
    already: dict[str, Any] | None = None    # the existing mark when already deleted
    service: str = ""                # provisioner entra: what happens to the job (a plan line)
    delete_application: bool = False  # provisioner entra: delete the sync application too

    def lines(self, deployments: list[str] | None = None, note: str = "") -> list[str]:
        """What will be done, in words; ``deployments`` (found on the server) or ``note`` (why none)."""
        if self.already:
            return [f"{self.config} was already deleted on {self.already['deleted']:%Y-%m-%d %H:%M} UTC "
                    f"(archive: {self.already['archive']}): only its deployments are paused again."]
        if deployments:
            pause = f"- pause its {len(deployments)} Prefect deployments ({', '.join(deployments)}): no scheduled run;"
        else:
            pause = f"- no Prefect deployment to pause: {note or 'none found'};"
        out = [f"Delete configuration {self.config} (as Entra deletes a configuration):", pause,
               f"- archive its state: {sum(self.rows.values())} rows of {self.state} copied to {self.archive}, "
               "then marked deleted in the store (nothing is dropped);",
               f"- keep its reports: {self.reports} ({self.report_files} files) is not touched;",
               f"- leave the {self.links} users it synchronized untouched in the target"
               + (" (no Graph call)." if not self.service else ".")]
        if self.service:
            out.insert(2, self.service)
        if self.staged:
            out.append(f"- the {self.staged} deletions staged over the threshold are never applied.")
        out.append(f"Later cycles of {self.config} are refused. {restore_hint(self.config)}")
        return out


@dataclass
class DeletionResult:
    config: str
    deleted: str                     # ISO time of the mark
    archive: str
    rows: dict[str, int]
    links: int
    reports: str
    already: bool = False
    service: str = ""                # provisioner entra: what was done to the job (and application)
    deployments: list[str] = field(default_factory=list)
    deployments_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_deletion(cfg: SyncConfig, *, archive_dir: str | Path | None = None,
                  reports_dir: str | Path = DEFAULT_REPORTS_DIR, store: Store | None = None,
                  now: datetime | None = None) -> DeletionPlan:
    store = store or Store.for_url(cfg.state_url)
    now = now or utcnow()
    folder = Path(archive_dir) if archive_dir else default_archive_dir(cfg.state_url)
    reports = Path(reports_dir) / cfg.name
    files = sum(1 for p in reports.rglob("*") if p.is_file()) if reports.is_dir() else 0
    counts = store.config_row_counts(cfg.name)
    counts.pop(deleted_configs.name, None)
    return DeletionPlan(
        config=cfg.name, state=store.url.render_as_string(hide_password=True),
        archive=str(_free(folder.resolve() / f"{cfg.name}-{now:%Y%m%dT%H%M%SZ}.db")), rows=counts,
        links=store.count_links(cfg.name), staged=len(store.staged(cfg.name)),
        reports=str(reports.resolve()), report_files=files, already=store.deleted_mark(cfg.name),
        service=_service_line(cfg, store))


def _service_line(cfg: SyncConfig, store: Store) -> str:
    if cfg.provisioner != "entra":
        return ""
    from tenantsync.entra_service.verbs import describe_deletion
    return describe_deletion(cfg, store)


def delete_configuration(cfg: SyncConfig, plan: DeletionPlan | None = None, *,
                         store: Store | None = None) -> DeletionResult:
    """Archive and mark (module docstring). Idempotent: an already deleted configuration is left
    as it is. Raises TenantSyncError, before marking anything, when the archive is incomplete."""
    store = store or Store.for_url(cfg.state_url)
    plan = plan or plan_deletion(cfg, store=store)
    if plan.already:
        mark = plan.already
        return DeletionResult(cfg.name, mark["deleted"].isoformat(), mark["archive"] or "",
                              dict(mark["details"].get("rows") or {}), int(mark["details"].get("links") or 0),
                              plan.reports, already=True)
    path = Path(plan.archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    details = {"rows": plan.rows, "links": plan.links, "staged": plan.staged, "state": plan.state,
               "reports": plan.reports}
    when = utcnow()
    with Store(url) as archive:
        copied = store.copy_config_to(cfg.name, archive)
        if copied != plan.rows or archive.config_row_counts(cfg.name) != plan.rows:
            raise TenantSyncError(f"{cfg.name}: the archive {path} does not hold every row of the state "
                                  f"({copied} copied, {plan.rows} expected; a cycle may have run meanwhile): "
                                  "nothing was marked deleted; run delete-config again")
        service = ""
        if cfg.provisioner == "entra":   # the service stops before the mark; a refusal marks nothing
            from tenantsync.entra_service.verbs import delete_service
            service = delete_service(cfg, store, delete_application=plan.delete_application)
        archive.mark_deleted(cfg.name, archive=url, details=details, when=when)
    store.mark_deleted(cfg.name, archive=url, details=details, when=when)
    return DeletionResult(cfg.name, when.isoformat(), url, copied, plan.links, plan.reports, service=service)


def restore_configuration(cfg: SyncConfig, *, store: Store | None = None) -> dict[str, Any]:
    """Lift the mark: the next cycle carries on from the state as it was at deletion (the archive
    stays where it is)."""
    store = store or Store.for_url(cfg.state_url)
    mark = store.deleted_mark(cfg.name)
    if mark is None:
        return {"config": cfg.name, "restored": False, "message": f"{cfg.name} is not deleted: nothing to restore"}
    store.unmark_deleted(cfg.name)
    again = (f" Its synchronization job was deleted: run {remedies.setup(cfg.name)} to create it again."
             if cfg.provisioner == "entra" else "")
    return {"config": cfg.name, "restored": True, "deleted": mark["deleted"].isoformat(),
            "archive": mark["archive"],
            "message": f"{cfg.name} restored (deleted on {mark['deleted']:%Y-%m-%d %H:%M} UTC); its archive "
                       f"{mark['archive']} is kept.{again}"}


def _free(path: Path) -> Path:
    """``path``, or ``<stem>-2.db``... when a file of that name exists (two deletions in a second)."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
