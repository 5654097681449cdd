"""A scoping filter may test a source attribute no mapping uses: the cycle must read it anyway,
or the filter sees null (false) for every user (define-conditional-rules-for-provisioning-user-accounts:
"scoping filters return false if the value is null")."""

from __future__ import annotations

from .conftest import make_config, uid

CONTRACTORS = {"filters": [[{"attribute": "employeeType", "operator": "EQUALS", "value": "Contractor"}]]}


def test_a_filter_on_an_unmapped_attribute_is_evaluated_on_the_users_value(w):
    for n in (1, 2):
        w.src_api.request("PATCH", f"/users/{uid(n)}", {"employeeType": "Contractor"})
    cfg = make_config(w.emulator, w.store_url, scope={**w.cfg.scope.model_dump(), **CONTRACTORS})
    assert "employeeType" not in [m.source for m in cfg.effective_mappings]
    w.cfg = cfg
    report = w.sync(cfg)
    assert report.counts["failure"] == 0
    assert set(w.b2b()) == {uid(1), uid(2)}

    # an incremental cycle sees the attribute change too (it is tracked by the users delta)
    w.src_api.request("PATCH", f"/users/{uid(3)}", {"employeeType": "Contractor"})
    assert w.sync(cfg).kind == "incremental"
    assert set(w.b2b()) == {uid(1), uid(2), uid(3)}
