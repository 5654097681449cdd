"""A sync configuration kept in Prefect: the YAML text of a configuration file
(docs/contracts.md#sync-configuration-file)."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field


class SyncConfigBlock(Block):
    """The YAML of one tenantsync configuration (one source tenant -> one target)."""

    _block_type_name = "tenantsync sync configuration"
    _block_type_slug = "tenantsync-sync-config"
    _description = ("The YAML text of a tenantsync configuration. Flows accept the block's name "
                    "wherever they accept a configuration file path.")

    yaml: str = Field(..., description="The configuration file's text (name, source, target, scope, "
                                       "mappings, settings, connections).")
