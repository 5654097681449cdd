"""Pending manager references (store/references.py): kept until the manager is linked, held back
while a refused write waits for its retry time, per configuration."""

from __future__ import annotations

from datetime import timedelta

from tenantsync.store import Link, Store

from .conftest import T0


def test_a_pending_reference_resolves_once_its_manager_is_linked(store: Store) -> None:
    store.save_pending_references("emea", "manager", {"report": "boss", "other": "nobody"})
    store.save_pending_references("us", "manager", {"report": "boss"})
    assert store.resolvable_references("emea", "manager", T0) == {}
    store.upsert_links("emea", [Link("boss", "t-boss", "active"), Link("nobody", "t-x", "deleted")])
    assert store.resolvable_references("emea", "manager", T0) == {"report": "boss"}
    assert store.resolvable_references("us", "manager", T0) == {}          # another configuration
    store.save_pending_references("emea", "manager", {"report": "nobody"})  # replaced, not added
    assert store.pending_references("emea", "manager") == {"report": "nobody", "other": "nobody"}
    store.drop_pending_references("emea", "manager", ["report", "other"])
    assert store.pending_references("emea", "manager") == {}


def test_a_refused_reference_waits_for_its_escrow_retry_time(store: Store) -> None:
    store.upsert_links("emea", [Link("boss", "t-boss", "pending")])
    store.save_pending_references("emea", "manager", {"report": "boss"})
    store.record_reference_failures("emea", "manager", {"report": "403"}, T0)
    assert store.resolvable_references("emea", "manager", T0 + timedelta(minutes=39)) == {}
    assert store.resolvable_references("emea", "manager", T0 + timedelta(minutes=40)) == {"report": "boss"}
