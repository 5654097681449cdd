"""Prefect Block types of tenantsync: `prefect block register -m blocks` registers all three."""

from .graph_connection import GraphConnectionBlock
from .smtp_email import SmtpEmailBlock
from .sync_config import SyncConfigBlock

__all__ = ["GraphConnectionBlock", "SmtpEmailBlock", "SyncConfigBlock"]
