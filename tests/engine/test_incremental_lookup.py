"""An incremental cycle reads the linked target users of its changes with `id in (...)` filters,
15 ids per $batch item (filter-query-parameter: the `in` operator takes up to 15 expressions), and
still sees what an administrator edited by hand in the target."""

from __future__ import annotations

from .conftest import uid


def test_changed_users_are_read_fifteen_per_item_and_hand_edits_are_noticed(w):
    w.sync()
    linked = w.b2b()
    assert len(linked) >= 10
    # An administrator edits one target user by hand; then every source user changes.
    hand = linked[uid(1)]["id"]
    w.tgt_api.request("PATCH", f"/users/{hand}", {"department": "Edited by hand"})
    for n in range(1, 11):
        w.src_api.request("PATCH", f"/users/{uid(n)}", {"jobTitle": f"Engineer {n}"})
    w.emulator.reset_stats()

    report = w.sync()

    assert report.kind == "incremental" and report.counts["failure"] == 0
    routes = w.emulator.stats()["by_route"]
    assert routes.get("GET /users/{id}", 0) == 0              # no per-user reads of the target
    assert routes.get("GET /users", 0) == 1                   # the 10 linked users: one `in` filter
    users = {u["id"]: u for u in w.target()["users"]}
    assert users[hand]["department"] == "Sales"               # the hand edit is put back
    assert all(users[linked[uid(n)]["id"]]["jobTitle"] == f"Engineer {n} - Sales" for n in range(1, 11))
