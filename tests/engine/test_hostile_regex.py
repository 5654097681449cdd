"""A source value on which a mapping's or a scoping filter's regular expression backtracks
exponentially: the cycle ends, that user gets a failure row saying why, every other user is
provisioned, and the user is never treated as having left the scope."""

from __future__ import annotations

from .conftest import make_config, uid

HOSTILE = "a" * 40 + "!"
SLOW_REPLACE = 'Replace([surname], , "(a|aa)+$", , "x", , )'


def _row(w, report, source_id):
    return next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == source_id)


def test_a_mapping_regex_over_its_time_limit_fails_only_that_user(w):
    w.src_api.request("PATCH", f"/users/{uid(1)}", {"surname": HOSTILE})
    mappings = [m.model_dump() for m in w.cfg.mappings] + [
        {"target": "companyName", "type": "expression", "expression": SLOW_REPLACE}]
    w.cfg = make_config(w.emulator, w.store_url, mappings=mappings)
    report = w.sync()
    assert report.counts["failure"] == 1, report.message
    assert set(w.b2b()) == {uid(i) for i in range(2, 11)}
    row = _row(w, report, uid(1))
    assert (row["status"], row["errorCode"]) == ("failure", "ExpressionEvaluationFailed")
    assert "did not finish within" in row["reason"] and "column 1: Replace:" in row["reason"]
    assert w.b2b()[uid(2)]["companyName"] == "Test2"


def test_a_scoping_regex_over_its_time_limit_is_a_failure_not_out_of_scope(w):
    first = w.sync()
    assert first.counts["failure"] == 0 and uid(1) in w.b2b()
    w.src_api.request("PATCH", f"/users/{uid(1)}", {"surname": HOSTILE})
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"surname": "aaaa"})
    scope = {**w.cfg.scope.model_dump(), "filters": [[
        {"attribute": "surname", "operator": "NOT REGEX MATCH", "value": "^(a|aa)+$"}]]}
    w.cfg = make_config(w.emulator, w.store_url, scope=scope, settings={
        **w.cfg.settings.model_dump(exclude_defaults=True), "on_leave_scope": "disable"})
    report = w.sync()
    row = _row(w, report, uid(1))
    assert (row["status"], row["errorCode"]) == ("failure", "ScopeEvaluationFailed"), row
    assert "did not finish within" in row["reason"] and "Scoping filter 1.surname NOT REGEX MATCH" in row["reason"]
    b2b = w.b2b()
    assert b2b[uid(1)]["accountEnabled"] is True            # not disabled as "left the scope"
    assert b2b[uid(2)]["accountEnabled"] is False           # "aaaa" matches: really left the scope
    assert b2b[uid(3)]["accountEnabled"] is True
