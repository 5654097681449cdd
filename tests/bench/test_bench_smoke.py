"""Smoke test of the benchmark harness (bench/run.py): it runs end to end at N=300 and every figure
the report needs is produced. It asserts figures exist and are sane, never timings."""

from __future__ import annotations

import pytest

from bench.run import SizeRun, goals, render_goals, render_table


@pytest.fixture(scope="module")
def run300(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    # inline: the engine runs in this process (no child interpreter to start), the emulator in its own.
    run = SizeRun(n=300, scale=20.0, workdir=work / "n300", groups=5, seed="smoke", inline=True,
                  change_counts=(0, 20), on_demand=2, log=lines.append)
    result = run.run()
    return result, lines


def test_every_scenario_produces_its_figures(run300):
    r, log = run300
    ini = r["initial"]["derived"]
    assert ini["created"] > 250                       # scope "all": members that are enabled...
    assert ini["writes"] == r["initial"]["emulator"]["writes"] > 0
    assert ini["writes_per_new_user"] is not None and 0 < ini["writes_per_new_user"] <= 2
    for key in ("utilisation_write_phase", "utilisation_whole_cycle", "share_429",
                "projected_real_min", "projected_min_per_object", "published_min", "cpu_ms_per_user"):
        assert ini[key] is not None, key
    assert ini["quota_binding"] is False              # 300 users never exhaust the 3,000-write bucket
    rs = r["restart"]["derived"]
    assert rs["writes"] == 0 and rs["requests"] > 0 and rs["cpu_ms_per_user"] > 0
    assert r["restart"]["peak_rss_mb"] > 0
    inc = {i["derived"]["changes"]: i["derived"] for i in r["incremental"]}
    assert inc[0]["writes"] == 0 and inc[0]["requests"] > 0
    assert inc[20]["updated"] == 20 and inc[20]["writes"] == 20
    od = r["on_demand"]["derived"]
    assert len(od["latencies_ms"]) == 2 and od["writes"] == 2
    assert any("restart" in line for line in log)


def test_table_and_goals_render(run300):
    r, _ = run300
    table = render_table([r], {"users_pages": {"requests_per_s": 1.0, "units_per_s": 999.0},
                               "delta_pages": {}, "batch_patch": {}, "users": 300})
    assert "N = 300" in table and "restart in step" in table and "Emulator capacity" in table
    items = goals([r])
    lines = render_goals(items).splitlines()
    assert len(lines) == len(items)
    ini = r["initial"]["derived"]

    def line(words: str) -> str:
        return next(text for text in lines if words in text)

    # 300 users fit in the write bucket: no utilisation to judge, the writes are counted instead
    assert line("N=300: initial cycle").startswith(
        f"· N=300: initial cycle, write-quota utilisation ≥ 95 % with < 0.1 % 429s: not measurable, "
        f"the {ini['writes']:,} writes fit")
    assert line("N=10,000: initial cycle").startswith("· ") and "not run" in line("N=10,000: initial cycle")
    assert line("N=100,000: restart in step").startswith("· ") and "not run" in line("N=100,000: restart")
    # the SDK baseline ran neither (SizeRun's default)
    assert line("less CPU per user than the SDK baseline").startswith("· ")


def test_readme_block_splices_between_markers(run300):
    from bench.readme import BEGIN, END, render, splice
    r, _ = run300
    results = {"machine": {"nproc": 2, "cpu": "test cpu", "mem_gb": 1.0, "python": "3.11",
                           "loadavg_start": [0.5]},
               "command": "python -m bench.run --sizes 300", "when": "20260101-000000", "commit": "abc",
               "total_s": 12.0, "table": render_table([r], None),
               "goals": [{"met": ok, "text": text} for ok, text in goals([r])]}
    block = render(results)
    assert "N = 300" in block and "2026-01-01" in block
    readme = f"# x\n\n## Performance\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore prose\n"
    out = splice(readme, block)
    assert "old" not in out and "prose" in out and "more prose" in out and block in out
