"""The state store: links, snapshots, memberships, watermarks, job status, cycles, the
provisioning log, escrows (objects and reference attributes), staged deletions, notifications and
the configuration fingerprint, per configuration."""

from .store import Store, StoreSchemaError
from .types import JobStatus, Link, Quarantine

__all__ = ["JobStatus", "Link", "Quarantine", "Store", "StoreSchemaError"]
