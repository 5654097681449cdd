"""The shared SQL helpers (tenantsync/sql.py): Graph's time format, JSON columns, one object per URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tenantsync.sql import PerUrl, aware, dumps, format_iso, loads, parse_iso


def test_times_in_graph_format_round_trip_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 1, 5, 10, 30, tzinfo=paris)
    assert format_iso(when) == "2026-01-05T09:30:00Z"
    assert parse_iso("2026-01-05T09:30:00Z") == when and parse_iso("2026-01-05T09:30:00Z").tzinfo is UTC
    assert parse_iso("2026-01-05T09:30:00").tzinfo is None          # left naive: the column refuses it
    assert aware(datetime(2026, 1, 5, 9, 30)) == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_json_columns_take_what_the_engine_puts_in_them() -> None:
    value = {"when": datetime(2026, 1, 5, tzinfo=UTC), "big": 2**70, 7: "int key", "name": "Élise"}
    assert loads(dumps(value)) == {"when": "2026-01-05T00:00:00+00:00", "big": 2**70, "7": "int key",
                                   "name": "Élise"}


def test_one_object_per_url_until_it_is_forgotten() -> None:
    cache: PerUrl[object] = PerUrl()
    first = cache.get("sqlite:///a.db", object)
    assert cache.get("sqlite:///a.db", object) is first and cache.find("sqlite:///a.db") is first
    assert cache.get("sqlite:///b.db", object) is not first
    cache.forget(first)
    assert cache.find("sqlite:///a.db") is None and cache.get("sqlite:///a.db", object) is not first
