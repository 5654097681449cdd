"""What every flow shares: resolving a configuration (file or block), e-mail, run names, results."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from prefect import get_run_logger, runtime
from prefect.states import Completed, Failed, State

from tenantsync.config import SyncConfig, load_config
from tenantsync.errors import ConfigError, TenantSyncError
from tenantsync.graph.connection import GraphConnection
from tenantsync.report_links import DEFAULT_DIR, DIR_ENV
from tenantsync.results import ProcedureResult

if TYPE_CHECKING:
    from tenantsync.usersource.config import UserSourceConfig

DEFAULT_SMTP_BLOCK = "tenantsync-smtp"


def default_reports_dir() -> str:
    """The flows' default reports root: the folder of TENANTSYNC_REPORTS_DIR when set (the one `make ui`
    serves, or a worker's own), else data/reports. Read when the flows are imported: in a worker, by
    the flow run's process (its environment); in `tenantsync deploy`, for the parameter form's default."""
    return os.environ.get(DIR_ENV) or DEFAULT_DIR


DEFAULT_REPORTS_DIR = default_reports_dir()

Notify = Callable[[str, str], None]


class ProcedureFailed(TenantSyncError):
    """A procedure ran and failed; ``result`` is its ProcedureResult all the same."""

    def __init__(self, result: ProcedureResult, message: str | None = None):
        self.message, self.result = message or result.message, result
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:        # Prefect pickles a Failed state's exception
        return (type(self), (self.result, self.message))


# -- configuration -----------------------------------------------------------------------------

def looks_like_file(config: str) -> bool:
    p = Path(config)
    return p.exists() or p.suffix.lower() in (".yaml", ".yml") or "/" in config or os.sep in config


def config_label(config: str) -> str:
    """A short name for run names: the configuration's name (the file's ``name:``, else its stem)
    or the block's name."""
    if not looks_like_file(config):
        return config
    try:
        data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else Path(config).stem


def resolve_config(config: str, loader: Callable[..., Any] = load_config, *,
                   credentials: bool = True) -> Any:
    """Load a configuration from a YAML file or a SyncConfigBlock; a connection the file names but
    does not define comes from the GraphConnectionBlock of that name. ``loader(path, connections=)``
    is load_config (cross-tenant) or load_user_source_config. ``credentials``: check, before
    anything is opened, that the file's connections have their credentials (environment
    variables, certificate files), as the command line does; False for procedures that never
    reach Graph (reports, deploy, delete-config)."""
    path, label = _config_file(config)
    try:
        cfg = loader(path, credentials=credentials)
        named = (cfg.source.connection, getattr(cfg.target, "connection", None))
        missing = sorted({n for n in named if n} - set(cfg.connections))
        if missing:
            cfg = loader(path, connections={n: _connection_block(n) for n in missing},
                         credentials=credentials)
    except ConfigError as exc:
        if label is None:
            raise
        raise ConfigError(exc.message, file=label, line=exc.line, key=exc.key, value=exc.value,
                          allowed=exc.allowed) from None
    finally:
        if label is not None:           # the block's temporary copy
            shutil.rmtree(path.parent, ignore_errors=True)
    return cfg


def _config_file(config: str) -> tuple[Path, str | None]:
    """(file to load, label for error messages when the file is a block's copy)."""
    if looks_like_file(config):
        return Path(config), None
    from blocks import SyncConfigBlock

    try:
        # Block.load is async_dispatch'd (block or coroutine); called from sync code it returns the block.
        block = cast(SyncConfigBlock, SyncConfigBlock.load(config))
    except ValueError:
        raise ConfigError(f"no configuration file {config!r} and no SyncConfigBlock of that name "
                          "(prefect block ls)") from None
    folder = Path(tempfile.mkdtemp(prefix="tenantsync-config-"))
    path = folder / f"{config}.yaml"
    path.write_text(block.yaml, encoding="utf-8")
    return path, f"block {config}"


def _connection_block(name: str) -> GraphConnection:
    from blocks import GraphConnectionBlock

    try:
        block = cast(GraphConnectionBlock, GraphConnectionBlock.load(name))   # sync call: the block
        return block.to_connection(name)
    except ValueError:
        raise ConfigError(f"connection {name!r} is neither defined in 'connections' nor saved as a "
                          "GraphConnectionBlock of that name", key="connections") from None


# -- e-mail --------------------------------------------------------------------------------------

def smtp_block(cfg: SyncConfig | UserSourceConfig | None = None) -> Any:
    """The SmtpEmailBlock named by the configuration (settings.email_block) or 'tenantsync-smtp';
    None when there is none (then notifications are only stored, not sent)."""
    from blocks import SmtpEmailBlock

    name = getattr(getattr(cfg, "settings", None), "email_block", None) or DEFAULT_SMTP_BLOCK
    try:
        return SmtpEmailBlock.load(name)
    except ValueError:
        return None


def notifier(cfg: SyncConfig) -> Notify | None:
    """notify(subject, body) for the engine: e-mails settings.notification_email; a failed send
    is logged, never fatal (the notification is in the state store either way)."""
    to = cfg.settings.notification_email
    block = smtp_block(cfg) if to else None
    if block is None:
        return None

    def notify(subject: str, body: str) -> None:
        try:
            block.send(to, subject, body)
        except Exception as exc:
            get_run_logger().warning("could not send the notification e-mail to %s: %s", to, exc)

    return notify


# -- run names and results ---------------------------------------------------------------------

def run_name(kind: str) -> Callable[[], str]:
    """flow_run_name callable: '<config>-<kind>', plus '-dry-run' for a dry run; given once as the
    run starts, never changed (flows/run_names.py: the sync cycle's and the user source's)."""
    def name() -> str:
        params = runtime.flow_run.parameters or {}
        parts = [config_label(str(params.get("config", "config"))), kind]
        if params.get("dry_run"):
            parts.append("dry-run")
        return "-".join(parts)

    return name


def final_state(result: ProcedureResult, *, name: str | None = None, message: str | None = None,
                completed: bool = False) -> State:
    """The flow's final state, read from its result: Failed (its exception ProcedureFailed carries
    the result) when ``result.failed``, else Completed with the result. ``completed``: a failed
    result that still ends Completed, for runs whose job is fine (failed users retried in later
    cycles, a run skipped while the job waits); the command line exits 1 for them all the same.
    ``message``: the state's message when it says more than ``result.message``."""
    text = message or result.message
    named: dict[str, Any] = {"name": name} if name else {}
    if result.failed and not completed:
        return Failed(message=text, data=ProcedureFailed(result, text), **named)
    return Completed(message=text, data=result, **named)


def file_uri(path: str | Path) -> str:
    """The link of a report file (tenantsync.report_links.report_link): the object in the
    TENANTSYNC_REPORTS_STORE store (uploaded now unless already), the file on the folder `make ui`
    serves (TENANTSYNC_REPORTS_URL), else its file:// URI."""
    return report_link(path).url


_WARNED: set[tuple[str, str]] = set()      # (flow run, error) already logged


def report_link(path: str | Path, root: str | Path | None = None) -> Any:
    """report_links.Link of a report file; a failed upload is logged once (credentials masked)."""
    from tenantsync.report_links import report_link as link_of

    link = link_of(path, root)
    seen = (str(runtime.flow_run.id), link.error)
    if link.error and seen not in _WARNED:
        _WARNED.add(seen)
        get_run_logger().warning("report %s stays on the worker's disk: %s", Path(path).name, link.error)
    return link


def link_artifact(key: str, path: str | Path, name: str, description: str, root: str | Path | None = None) -> Any:
    """A link artifact of a report file whose description says how to open it when a browser
    cannot follow the link from the UI (a file:// link, a failed upload)."""
    from prefect.artifacts import create_link_artifact

    link = report_link(path, root)
    create_link_artifact(key=key, link=link.url, link_text=f"{name}: {Path(path).name}",
                         description=f"{description}\n\n{link.note}" if link.note else description)
    return link


def artifact_key(*parts: str) -> str:
    """Artifact keys: lowercase letters, digits and dashes only."""
    text = "-".join(parts).lower()
    return "".join(c if c.isalnum() and c.isascii() else "-" for c in text).strip("-")[:120] or "tenantsync"
