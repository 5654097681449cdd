"""The configuration fingerprint: which saved changes make the next cycle a full one (pure)."""

from __future__ import annotations

from tenantsync.config import SyncConfig
from tenantsync.fingerprint import PARTS, ConfigWatch, change_note, changed_parts, fingerprint


def cfg(**over) -> SyncConfig:
    data = {"name": "emea-to-hq", "source": {"connection": "emea"}, "target": {"connection": "hq"},
            "scope": {"mode": "assigned", "assignments": {"groups": ["g1", "g2"], "users": ["u1"]},
                      "filters": [[{"attribute": "city", "operator": "EQUALS", "value": "Paris"},
                                   {"attribute": "department", "operator": "IS NOT NULL"}]]},
            "mappings": [{"target": "jobTitle", "type": "direct", "source": "jobTitle"},
                         {"target": "companyName", "type": "constant", "value": "Contoso"}]}
    for key, value in over.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    return SyncConfig.model_validate(data)


def changes(before: SyncConfig, after: SyncConfig) -> list[str]:
    return changed_parts(fingerprint(before), fingerprint(after))


def test_every_part_is_fingerprinted_and_an_identical_config_has_no_change():
    assert set(fingerprint(cfg())) == set(PARTS)
    assert changes(cfg(), cfg()) == []


def test_a_new_filter_clause_or_filter_group_is_a_scope_filter_change():
    more = cfg(scope={"filters": [[{"attribute": "city", "operator": "EQUALS", "value": "Paris"}]]})
    assert changes(cfg(), more) == ["scope filters"]
    case = cfg(scope={"filters": [[{"attribute": "city", "operator": "EQUALS", "value": "paris"},
                                   {"attribute": "department", "operator": "IS NOT NULL"}]]})
    assert changes(cfg(), case) == ["scope filters"]            # EQUALS is case sensitive


def test_order_and_notes_are_not_changes():
    reordered = cfg(scope={"assignments": {"groups": ["g2", "g1", "g1"], "users": ["u1"]},
                           "filters": [[{"attribute": "department", "operator": "IS NOT NULL"},
                                        {"attribute": "city", "operator": "EQUALS", "value": "Paris"}]]},
                    mappings=[{"target": "companyName", "type": "constant", "value": "Contoso"},
                              {"target": "jobTitle", "type": "direct", "source": "jobTitle", "note": "x"}])
    assert changes(cfg(), reordered) == []


def test_assignments_mappings_and_scope_setting_are_named_apart():
    assert changes(cfg(), cfg(scope={"assignments": {"groups": ["g1"], "users": ["u1"]}})) == ["assignments"]
    assert changes(cfg(), cfg(mappings=[{"target": "jobTitle", "type": "direct", "source": "department"}])) \
        == ["attribute mappings"]
    assert changes(cfg(), cfg(mappings=[{"target": "jobTitle", "type": "direct", "source": "jobTitle",
                                         "apply": "on_create"}])) == ["attribute mappings"]
    everyone = cfg(scope={"mode": "all"})
    assert changes(cfg(), everyone) == ["scope setting", "assignments"]
    # with "Sync all users", assignments decide nothing: editing them is no change
    assert changes(everyone, cfg(scope={"mode": "all", "assignments": {"groups": ["g9"]}})) == []


def test_dropping_the_default_mappings_is_a_mapping_and_matching_change():
    assert changes(cfg(), cfg(default_mappings=False)) == ["attribute mappings", "matching"]


def test_first_cycle_records_silently_and_unknown_parts_are_not_changes():
    watch = ConfigWatch(cfg(), None)
    assert watch.first and watch.changed == [] and watch.note == ""
    recorded = {k: v for k, v in fingerprint(cfg()).items() if k != "matching"}     # an older record
    assert changed_parts(recorded, fingerprint(cfg())) == []
    watch = ConfigWatch(cfg(scope={"filters": []}), fingerprint(cfg()))
    assert watch.changed == ["scope filters"] and watch.note.startswith("configuration changed: scope filters")


def test_the_note_names_every_changed_part():
    note = change_note(["scope filters", "attribute mappings"])
    assert note.startswith("configuration changed: scope filters, attribute mappings: full cycle")
