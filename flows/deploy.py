"""`tenantsync deploy [CONFIG ...]`: each configuration's Prefect deployments, from its own settings.

One list of procedures (PROCEDURES, USER_SOURCE_PROCEDURES) gives every deployment of a
configuration; the same list writes prefect.yaml (``--prefect-yaml``, relative paths, for
``prefect deploy --all``) and creates or updates the deployments on the server of PREFECT_API_URL
(absolute paths). A test checks that the committed prefect.yaml is what the sample configurations
give, so it cannot drift from them.

The schedule of the incremental cycle (and of the user-source sync) is ``settings.interval_minutes``.
Deploying again is an upsert: the server replaces a deployment's schedules with the ones sent (Prefect's
create_deployment deletes the old schedules and their future runs), so a changed interval gives one
new schedule, never a second. Deployments of a configuration that the list no longer produces
(earlier names, e.g. those of an older prefect.yaml) are removed; paused deployments stay paused
(``paused`` is never sent). A configuration marked deleted (tenantsync delete-config) is not deployed.

No deployment has a Prefect concurrency limit: the configuration's lock (tenantsync/store/locks.py)
keeps cycles apart on every path. A limit's slot is a lease that Prefect's server keeps in memory by
default (server.concurrency.lease_storage), so a server restart, or a pause (Running -> Paused:
ReleaseFlowConcurrencySlots; PrefectHQ/prefect#20251), made the running flow's next renewal (every
225 s, prefect/concurrency/_leases.py) fail and end it Crashed. Deploying sends ``concurrency_limit:
null``, which removes a limit an earlier version created.

Flows are deployed by module path (``flows.sync.sync_cycle``): a process worker imports them from the
installed package, in the working directory ``tenantsync deploy`` ran from (pull step
set_working_directory), where the configurations' relative paths (state, reports) resolve.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenantsync.errors import ConfigError, TenantSyncError

POOL = "tenantsync-process"
DEFAULT_CONFIGS = "data/configs/*.yaml"
REPORT_CRON = "0 6 * * *"
TAG = "tenantsync"


class NoServer(TenantSyncError):
    """Deployments need a Prefect server: PREFECT_API_URL is not set (bad input: exit 2)."""


class ServerUnreachable(TenantSyncError):
    """PREFECT_API_URL is set but the server does not answer."""


@dataclass(frozen=True)
class Procedure:
    module: str
    function: str
    suffix: str                      # deployment name: <config>-<suffix>, or <config> when empty
    tag: str
    description: str                 # str.format: name, source, target, minutes
    parameters: dict[str, Any] = field(default_factory=dict)
    schedule: str = ""               # "" (manual) | "interval" | "daily"
    optional: bool = False           # deployed only when the module exists

    @property
    def entrypoint(self) -> str:
        return f"{self.module}.{self.function}"

    def available(self) -> bool:
        return not self.optional or importlib.util.find_spec(self.module) is not None


_CYCLE = {"dry_run": False, "allow_deletes": False, "approval_timeout_s": 3600}

PROCEDURES = (
    Procedure("flows.sync", "sync_cycle", "incremental", "incremental",
              "Incremental cycle {source} -> {target} every {minutes} minutes (settings.interval_minutes): reads "
              "the source's delta and applies the changes. While the job is quarantined, runs end at once "
              "(Skipped) until the next attempt.", _CYCLE, schedule="interval"),
    Procedure("flows.sync", "sync_cycle", "initial", "initial",
              "Initial cycle {source} -> {target} (restart): reads the whole source tenant, matches and creates "
              "every user in scope. Watermarks, escrows and quarantine are cleared; links are kept. Deletions "
              "above the threshold pause the run for approval (approval_timeout_s).", {"restart": True, **_CYCLE}),
    Procedure("flows.ondemand", "provision_on_demand", "", "on-demand",
              "Provision on demand {source} -> {target}: 1 to 5 source user object ids (user_ids), step by step "
              "(import, scoping, matching, action with old -> new values) as a markdown artifact."),
    Procedure("flows.repair", "repair_upn", "", "repair",
              "Pending-acceptance UPN repair {source} -> {target}: lists the target's PendingAcceptance B2B "
              "users (pending-acceptance.csv), provisions the matching source users on demand and writes the "
              "before/after report (upn-repair.csv)."),
    Procedure("flows.connection", "test_connection", "", "test-connection",
              "Test connection {source} -> {target}: credentials of both sides, inbound identity sync, automatic "
              "redemption, guest invitations, premium licences, UPN suffixes. Fails on a blocking check."),
    Procedure("flows.setup", "setup_config", "", "setup",
              "Setup {source} -> {target}: registers (or finds) the anchor extension on the target's application, "
              "records its name in the state store and lists the application permissions each side needs. "
              "dry_run lists the calls only.", {"dry_run": False}),
    Procedure("flows.reports", "export_reports", "daily", "reports",
              "Daily export of the {name} reports: provisioning-log.csv per cycle, cycles.csv, "
              "pending-deletions.csv, notifications.csv and summary.html under out_dir/{name}/.",
              schedule="daily"),
    Procedure("flows.disable_sms", "disable_sms_flow", "", "disable-sms",
              "SMS sign-in repair {source}: lists the in-scope users skipped because SMS sign-in is enabled "
              "and turns it off in the source tenant (Configure cross-tenant synchronization, troubleshooting).",
              optional=True),
    Procedure("flows.delete_config", "delete_config_flow", "", "delete-config",
              "Delete the configuration {name}: pauses its deployments, archives its state (never dropped), keeps "
              "its reports and leaves every synced user as it is in the target. Type the configuration's name "
              "in confirm."),
)

USER_SOURCE_PROCEDURES = (
    Procedure("flows.usersource", "user_source_sync", "", "user-source",
              "User-source sync: keeps the application's own user directory in step with {source}, every "
              "{minutes} minutes (settings.interval_minutes).", schedule="interval"),
    Procedure("flows.reports", "export_reports", "daily", "reports",
              "Daily export of the {name} directory reports under out_dir/{name}/.", schedule="daily"),
)


@dataclass(frozen=True)
class Configuration:
    """One configuration file (or SyncConfigBlock name) and what its deployments need of it."""

    ref: str                         # as given: a path or a block name
    name: str
    user_source: bool
    minutes: int
    source: str
    target: str
    state_url: str | None
    is_file: bool

    def parameter(self, base: Path | None = None) -> str:
        """The ``config`` parameter: the file's absolute path, or relative to ``base`` (prefect.yaml)."""
        if not self.is_file:
            return self.ref
        path = Path(self.ref).resolve()
        return Path(os.path.relpath(path, base)).as_posix() if base else str(path)


@dataclass(frozen=True)
class Spec:
    """One deployment, as prefect.yaml and the server both take it."""

    procedure: Procedure
    name: str
    config: str
    description: str
    parameters: dict[str, Any]
    tags: tuple[str, ...]
    interval_s: int | None = None
    cron: str | None = None

    @property
    def schedule_text(self) -> str:
        if self.interval_s:
            return f"every {self.interval_s // 60} min"
        return f"daily {self.cron} UTC (cron)" if self.cron else "manual"


# -- configurations and specs ----------------------------------------------------------------------

def load_configurations(refs: list[str] | None = None, *, base: Path | None = None) -> list[Configuration]:
    """Every configuration given (default: data/configs/*.yaml under ``base`` or the working
    directory), validated: a bad file raises ConfigError before anything is deployed."""
    from ._common import looks_like_file, resolve_config
    from .reports import is_user_source

    base = base or Path.cwd()
    if not refs:
        refs = [str(p) for p in sorted(base.glob(DEFAULT_CONFIGS))]
        if not refs:
            raise ConfigError(f"no configuration given and none in {base / DEFAULT_CONFIGS}")
    out: list[Configuration] = []
    for ref in refs:
        is_file = looks_like_file(ref)
        if is_file and not Path(ref).is_file():
            raise ConfigError("no such configuration file", file=ref)
        if is_file and is_user_source(ref):
            from tenantsync.usersource import load_user_source_config

            u = resolve_config(ref, loader=load_user_source_config, credentials=False)
            out.append(Configuration(ref, u.name, True, u.settings.interval_minutes, u.source.connection,
                                     "application directory", None, True))
        else:
            c = resolve_config(ref, credentials=False)
            out.append(Configuration(ref, c.name, False, c.settings.interval_minutes, c.source.connection,
                                     c.target.connection or "application directory", c.state_url, is_file))
    names = [c.name for c in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two configurations are named {', '.join(twice)}: names must be unique (they name "
                          "the deployments and the state)")
    return out


def specs_for(conf: Configuration, *, base: Path | None = None) -> list[Spec]:
    """The deployments of one configuration (optional procedures only when their module exists)."""
    procedures = USER_SOURCE_PROCEDURES if conf.user_source else PROCEDURES
    config = conf.parameter(base)
    specs = []
    for p in procedures:
        if not p.available():
            continue
        specs.append(Spec(
            procedure=p, name=f"{conf.name}-{p.suffix}" if p.suffix else conf.name, config=config,
            description=p.description.format(name=conf.name, source=conf.source, target=conf.target,
                                             minutes=conf.minutes),
            parameters={"config": config, **p.parameters}, tags=(TAG, conf.name, p.tag),
            interval_s=conf.minutes * 60 if p.schedule == "interval" else None,
            cron=REPORT_CRON if p.schedule == "daily" else None))
    return specs


# -- prefect.yaml ----------------------------------------------------------------------------------

YAML_HEADER = """\
# tenantsync deployments for `prefect deploy --all` (run from the repository root).
# GENERATED from data/configs/*.yaml by `tenantsync deploy --prefect-yaml prefect.yaml`: edit the
# configurations (settings.interval_minutes sets the incremental schedule), then regenerate;
# tests/flows/test_deploy_specs.py fails when this file and the configurations disagree.
# `tenantsync deploy [CONFIG ...]` creates the same deployments on PREFECT_API_URL directly (with
# absolute paths), and is what `make ui` runs. Every deployment runs on the process work pool
# tenantsync-process, in the directory deployed from ({{ $PWD }}), where relative paths resolve.
"""


class _Inline(dict):  # type: ignore[type-arg]
    """A mapping written on one line in prefect.yaml (tags, parameters, schedules, work pool)."""


class _InlineList(list):  # type: ignore[type-arg]
    pass


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Inline, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_Dumper.add_representer(_InlineList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def render_prefect_yaml(configurations: list[Configuration], *, base: Path, work_pool: str = POOL) -> str:
    deployments = []
    for conf in configurations:
        for s in specs_for(conf, base=base):
            d: dict[str, Any] = {"name": s.name, "entrypoint": s.procedure.entrypoint,
                                 "description": s.description, "tags": _InlineList(s.tags),
                                 "parameters": _Inline(s.parameters)}
            if s.interval_s:
                d["schedules"] = [_Inline(interval=s.interval_s, active=True)]
            elif s.cron:
                d["schedules"] = [_Inline(cron=s.cron, timezone="UTC", active=True)]
            d["work_pool"] = _Inline(name=work_pool, work_queue_name="default")
            deployments.append(d)
    doc = {"name": "tenantsync", "prefect-version": "3.9.1", "build": None, "push": None,
           "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}],
           "deployments": deployments}
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return YAML_HEADER + "\n" + body.replace("\n- name: ", "\n\n- name: ")


# -- the server ------------------------------------------------------------------------------------

def api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile (None: not set)."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url or None


def require_server() -> str:
    """The API URL of a server that answers; NoServer / ServerUnreachable otherwise."""
    import httpx

    url = api_url()
    if not url:
        raise NoServer("deployments live on a Prefect server: set PREFECT_API_URL (e.g. "
                       "http://127.0.0.1:4200/api after `prefect server start`, or run `make ui`)")
    try:
        ok = httpx.get(f"{url.rstrip('/')}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        ok = False
    if not ok:
        raise ServerUnreachable(f"the Prefect server at {url} (PREFECT_API_URL) does not answer")
    return url


def deployments_of(client: Any, config_name: str) -> list[tuple[str, Any]]:
    """('flow/deployment', deployment) for every deployment tagged with the configuration."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterId

    found = client.read_deployments(deployment_filter=DeploymentFilter(
        tags=DeploymentFilterTags(all_=[TAG, config_name])))
    ids = list({d.flow_id for d in found})
    flows = {f.id: f.name for f in client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=ids)))} if ids else {}
    return sorted(((f"{flows.get(d.flow_id, '?')}/{d.name}", d) for d in found), key=lambda x: x[0])


def _ensure_pool(client: Any, work_pool: str) -> bool:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        client.read_work_pool(work_pool)
        return False
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(name=work_pool, type="process",
                                               base_job_template=ProcessWorker.get_default_base_job_template()))
        return True


def _schedule_of(deployment: Any) -> str:
    for s in getattr(deployment, "schedules", None) or []:
        interval = getattr(s.schedule, "interval", None)
        if interval is not None:
            return f"every {int(interval.total_seconds()) // 60} min"
        if getattr(s.schedule, "cron", None):
            return f"daily {s.schedule.cron} UTC (cron)" if s.schedule.cron == REPORT_CRON else f"cron {s.schedule.cron}"
    return "manual"


def _apply(client: Any, spec: Spec, *, work_pool: str, working_dir: Path) -> dict[str, Any]:
    from datetime import timedelta

    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.exceptions import ObjectNotFound
    from prefect.utilities.callables import parameter_schema

    flow = getattr(importlib.import_module(spec.procedure.module), spec.procedure.function)
    full = f"{flow.name}/{spec.name}"
    try:
        before: Any = client.read_deployment_by_name(full)
    except ObjectNotFound:
        before = None
    schedules = []
    if spec.interval_s:
        schedules = [DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(seconds=spec.interval_s)),
                                              active=True)]
    elif spec.cron:
        schedules = [DeploymentScheduleCreate(schedule=CronSchedule(cron=spec.cron, timezone="UTC"), active=True)]
    client.create_deployment(       # an upsert on (flow, name); schedules replaced, paused left as it is
        flow_id=client.create_flow_from_name(flow.name), name=spec.name, entrypoint=spec.procedure.entrypoint,
        description=spec.description, tags=list(spec.tags), parameters=spec.parameters, schedules=schedules,
        concurrency_limit=None, work_pool_name=work_pool, work_queue_name="default",     # module docstring
        parameter_openapi_schema=parameter_schema(flow).model_dump(exclude_unset=True),
        enforce_parameter_schema=True,
        pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(working_dir)}}])
    row = {"config": spec.tags[1], "deployment": full, "schedule": spec.schedule_text,
           "action": "updated" if before else "created", "paused": bool(before and before.paused)}
    if before and _schedule_of(before) != spec.schedule_text:
        row["was"] = _schedule_of(before)
    return row


def deleted_mark(conf: Configuration) -> dict[str, Any] | None:
    """The deletion mark of a sync configuration, without creating a store that does not exist."""
    if conf.user_source or not conf.state_url:
        return None
    from sqlalchemy.engine import make_url

    url = make_url(conf.state_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return None
    from tenantsync.store import Store

    return Store.for_url(conf.state_url).deleted_mark(conf.name)


def deploy(refs: list[str] | None = None, *, work_pool: str = POOL) -> dict[str, Any]:
    """Create or update the deployments of each configuration on PREFECT_API_URL's server."""
    from prefect import get_client

    from tenantsync.store.deleted import restore_hint

    explicit = bool(refs)
    configurations = load_configurations(refs)
    skipped = []
    for conf in configurations:
        mark = deleted_mark(conf)
        if mark is None:
            continue
        text = (f"{conf.name} was deleted on {mark['deleted']:%Y-%m-%d %H:%M} UTC (tenantsync delete-config): "
                f"not deployed. {restore_hint(conf.name)}")
        if explicit:
            raise ConfigError(text, file=conf.ref)
        skipped.append({"config": conf.name, "reason": text})
    live = [c for c in configurations if c.name not in {s["config"] for s in skipped}]
    url = require_server()
    working_dir = Path.cwd().resolve()
    rows: list[dict[str, Any]] = []
    removed: list[str] = []
    with get_client(sync_client=True) as client:
        pool_created = _ensure_pool(client, work_pool)
        for conf in live:
            specs = specs_for(conf)
            done = [_apply(client, s, work_pool=work_pool, working_dir=working_dir) for s in specs]
            rows += done
            keep = {r["deployment"] for r in done}
            for full, d in deployments_of(client, conf.name):
                if full not in keep:
                    client.delete_deployment(d.id)
                    removed.append(full)
    missing = [p.entrypoint for p in PROCEDURES if not p.available()]
    message = (f"{len(rows)} deployments of {len(live)} configuration(s) on {url} (work pool {work_pool}"
               f"{', created' if pool_created else ''}); a worker runs them: prefect worker start --pool {work_pool}")
    return {"server": url, "work_pool": work_pool, "working_dir": str(working_dir), "deployments": rows,
            "removed": removed, "skipped": skipped, "not_available": missing, "message": message}
