"""What `make ui` puts on its Prefect server before the deployments (flows/ui.py ``setup``).

- The process work pool ``tenantsync-process`` with a description (the Work Pools page showed
  "None"); a pool without one, e.g. created by ``tenantsync deploy``, gets it, another is kept.
- The block types of blocks/ (what ``prefect block register -m blocks`` does).
- For each configuration (default data/configs/*.yaml): a sync configuration block named after
  the configuration, holding its YAML without the ``connections:`` section, and a Graph
  connection block for each connection it uses, from that section. The file names the variable of
  a secret (token_env, client_secret_env, certificate_password_env); the block holds its value,
  read from the environment (`make ui` sets the sample tokens), in a SecretStr field the UI masks.
  A deployment run given the block's name as ``config`` reads the configuration and, for the
  connections it no longer defines, the Graph connection blocks (flows/_common.py resolve_config).

Idempotent: a block that exists already is kept as it is (an administrator may have typed a real
secret or another Graph URL in the UI); delete it on the Blocks page to have it saved again.

    python -m flows.ui_setup [CONFIG ...]        (on the server of PREFECT_API_URL)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
POOL = "tenantsync-process"
POOL_DESCRIPTION = ("tenantsync: runs the deployments of every configuration (sync cycles, on demand, repair, "
                    "test connection, setup, reports, delete) as processes on this machine, in the folder "
                    "deployed from. `make ui` starts a worker; otherwise: prefect worker start --pool "
                    "tenantsync-process.")
SECRET_VARIABLE = {"static_token": "token_env", "client_secret": "client_secret_env",
                   "certificate": "certificate_password_env"}


@dataclass
class SampleBlocks:
    """The blocks of some configuration files: name -> YAML text, name -> GraphConnectionBlock."""

    configs: dict[str, str] = field(default_factory=dict)
    connections: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def without_connections(text: str) -> str:
    """The YAML text without its top-level ``connections:`` section (comments elsewhere kept)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line[:1] not in ("", " ", "\t", "#", "\n", "\r"):       # a top-level key
            skipping = line.startswith("connections:")
        if not skipping:
            out.append(line)
    kept = "".join(out).rstrip() + "\n"
    data = yaml.safe_load(kept)
    if isinstance(data, dict) and "connections" in data:        # an unusual layout: re-dump without it
        data.pop("connections")
        kept = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return kept


def sample_blocks(paths: Iterable[Path], environ: Mapping[str, str]) -> SampleBlocks:
    """The sync configuration and Graph connection blocks of the configuration files ``paths``."""
    from blocks import GraphConnectionBlock
    from tenantsync.config import load_config
    from tenantsync.usersource import load_user_source_config

    from .reports import is_user_source

    out = SampleBlocks()
    origin: dict[str, str] = {}
    for path in paths:
        user_source = is_user_source(str(path))
        cfg: Any = load_user_source_config(path) if user_source else load_config(path)
        used = [cfg.source.connection] if user_source else [cfg.source.connection, cfg.target.connection]
        used = [n for n in dict.fromkeys(used) if n and n in cfg.connections]
        for name in used:
            conn = cfg.connections[name]
            variable = getattr(conn.auth, SECRET_VARIABLE.get(conn.auth.kind, ""), None) or ""
            block = GraphConnectionBlock.from_connection(conn, environ.get(variable) if variable else None)
            if name in out.connections:
                if out.connections[name].model_dump() != block.model_dump():
                    out.notes.append(f"connection {name!r} of {_shown(path)} differs from the one of "
                                     f"{origin[name]}: the block is {origin[name]}'s")
                continue
            if variable and not environ.get(variable):
                out.notes.append(f"{variable} is not set: the secret of Graph connection block {name!r} "
                                 "is empty (type it on the Blocks page)")
            out.connections[name], origin[name] = block, _shown(path)
        header = (f"# Saved by `make ui` (flows/ui_setup.py) from {_shown(path)}."
                  + (f" Its connections ({', '.join(used)}) are the\n# tenantsync Graph connection blocks "
                     "of those names." if used else "") + "\n")
        out.configs[cfg.name] = header + without_connections(path.read_text(encoding="utf-8"))
    return out


def ensure_pool(client: Any, name: str = POOL) -> str:
    """Create the process work pool with its description, or describe one that has none."""
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        pool = client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(name=name, type="process", description=POOL_DESCRIPTION,
                                               base_job_template=ProcessWorker.get_default_base_job_template()))
        return f"work pool {name} created"
    if not pool.description:
        client.update_work_pool(name, WorkPoolUpdate(description=POOL_DESCRIPTION))
        return f"work pool {name}: description set"
    return f"work pool {name} kept"


def register_block_types() -> None:
    from blocks import GraphConnectionBlock, SmtpEmailBlock, SyncConfigBlock

    for cls in (GraphConnectionBlock, SmtpEmailBlock, SyncConfigBlock):
        cls.register_type_and_schema()


def save_missing(client: Any, blocks: SampleBlocks) -> list[str]:
    """Save the blocks the server does not hold yet; one line each saying what was done."""
    from prefect.exceptions import ObjectNotFound

    from blocks import GraphConnectionBlock, SyncConfigBlock

    def exists(slug: str | None, name: str) -> bool:
        try:
            client.read_block_document_by_name(name=name, block_type_slug=slug, include_secrets=False)
            return True
        except ObjectNotFound:
            return False

    lines = []
    for name, block in blocks.connections.items():
        if exists(GraphConnectionBlock.get_block_type_slug(), name):
            lines.append(f"Graph connection block {name!r} kept (already on the server)")
            continue
        block.save(name)
        lines.append(f"Graph connection block {name!r} saved ({block.tenant_id}, {block.graph_url})")
    for name, text in blocks.configs.items():
        if exists(SyncConfigBlock.get_block_type_slug(), name):
            lines.append(f"sync configuration block {name!r} kept (already on the server)")
            continue
        SyncConfigBlock(yaml=text).save(name)
        lines.append(f"sync configuration block {name!r} saved: a run given config={name} reads it")
    return lines


def prepare(paths: list[Path], environ: Mapping[str, str] | None = None) -> list[str]:
    """Work pool, block types and blocks on the server of PREFECT_API_URL; what was done."""
    from prefect import get_client

    blocks = sample_blocks(paths, os.environ if environ is None else environ)
    register_block_types()
    with get_client(sync_client=True) as client:
        return [ensure_pool(client), "block types registered", *save_missing(client, blocks), *blocks.notes]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args if Path(a).is_file()] or ([] if args else
                                                             sorted((REPO / "data" / "configs").glob("*.yaml")))
    for line in prepare(paths) + [f"{a}: not a file (a block name?): no block saved for it"
                                  for a in args if not Path(a).is_file()]:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
