from __future__ import annotations

from tenantsync.store import Store

ANN = {"id": "u1", "displayName": "Ann Émile", "accountEnabled": True, "mobilePhone": None,
       "businessPhones": ["+33 1"], "onPremisesExtensionAttributes": {"extensionAttribute1": "x"},
       "extension_abc_anchor": "a\u2603'\"\\"}


def test_snapshots_round_trip_raw_json(store: Store) -> None:
    store.save_snapshots("emea", {"u1": ANN, "u2": {"id": "u2"}})
    assert store.snapshots("emea") == {"u1": ANN, "u2": {"id": "u2"}}
    assert store.snapshots("emea", ["u2", "missing"]) == {"u2": {"id": "u2"}}
    assert store.snapshots("emea", []) == {}


def test_save_snapshots_replaces_whole_documents(store: Store) -> None:
    store.save_snapshots("emea", {"u1": ANN})
    store.save_snapshots("emea", {"u1": {"id": "u1", "displayName": "Ann"}, "u3": {"id": "u3"}})
    assert store.snapshots("emea") == {"u1": {"id": "u1", "displayName": "Ann"}, "u3": {"id": "u3"}}


def test_remove_and_replace_snapshots(store: Store) -> None:
    store.save_snapshots("emea", {f"u{i}": {"id": f"u{i}"} for i in range(4)})
    store.remove_snapshots("emea", ["u0", "u1", "missing"])
    assert set(store.snapshots("emea")) == {"u2", "u3"}
    store.replace_snapshots("emea", {"u9": {"id": "u9"}})
    assert store.snapshots("emea") == {"u9": {"id": "u9"}}
    store.replace_snapshots("emea", {})
    assert store.snapshots("emea") == {}


def test_memberships_replace_and_change(store: Store) -> None:
    store.replace_memberships("emea", {"g1": {"u1", "u2"}, "g2": {"u1"}, "empty": set()})
    assert store.memberships("emea") == {"g1": {"u1", "u2"}, "g2": {"u1"}}
    store.change_memberships("emea",
                             added=[("g1", "u3"), ("g1", "u2"), ("g3", "u1"), ("g2", "u1")],
                             removed=[("g1", "u1"), ("g2", "u1"), ("g9", "nobody")])
    # g2/u1 was removed and added back in one delta: present; g1/u2 added again: no error
    assert store.memberships("emea") == {"g1": {"u2", "u3"}, "g2": {"u1"}, "g3": {"u1"}}
    store.replace_memberships("emea", {"g4": {"u4"}})
    assert store.memberships("emea") == {"g4": {"u4"}}


def test_configurations_do_not_see_each_others_snapshots_or_members(store: Store) -> None:
    store.save_snapshots("emea", {"u1": {"id": "u1", "city": "Paris"}})
    store.replace_snapshots("apac", {"u1": {"id": "u1", "city": "Tokyo"}, "u2": {"id": "u2"}})
    store.replace_memberships("emea", {"g1": {"u1"}})
    store.replace_memberships("apac", {"g1": {"u2"}})
    store.change_memberships("apac", added=[], removed=[("g1", "u2")])
    store.remove_snapshots("apac", ["u1"])
    assert store.snapshots("emea") == {"u1": {"id": "u1", "city": "Paris"}}
    assert store.snapshots("apac") == {"u2": {"id": "u2"}}
    assert store.memberships("emea") == {"g1": {"u1"}}
    assert store.memberships("apac") == {}


def test_unchanged_snapshots_are_not_written_again(store: Store) -> None:
    users = {"u1": ANN, "u2": {"id": "u2", "city": "Paris"}}
    assert store.save_snapshots("emea", users) == 2
    assert store.save_snapshots("emea", {"u1": dict(ANN), "u2": {"id": "u2", "city": "Paris"}}) == 0
    assert store.save_snapshots("emea", {"u1": ANN, "u2": {"id": "u2", "city": "Lyon"}, "u3": {"id": "u3"}}) == 2
    assert store.save_snapshots("emea", {}) == 0
    assert store.snapshots("emea") == {"u1": ANN, "u2": {"id": "u2", "city": "Lyon"}, "u3": {"id": "u3"}}
    # the same document for another configuration is its own row
    assert store.save_snapshots("apac", {"u1": ANN}) == 1


def test_keep_snapshots_removes_those_not_named(store: Store) -> None:
    store.save_snapshots("emea", {f"u{i}": {"id": f"u{i}"} for i in range(4)})
    store.save_snapshots("apac", {"u0": {"id": "u0"}})
    store.keep_snapshots("emea", {"u1", "u3", "never-stored"})
    assert set(store.snapshots("emea")) == {"u1", "u3"}
    assert set(store.snapshots("apac")) == {"u0"}
