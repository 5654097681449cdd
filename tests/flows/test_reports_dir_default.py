"""The flows' default reports folder is TENANTSYNC_REPORTS_DIR when set (the folder `make ui` serves,
or a worker's own), else data/reports: a run started without reports_dir writes where the links
point, and the deployment's run form shows that folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOW = """
import json
from flows.repair import repair_upn
from flows.reports import export_reports
from flows.sync import sync_cycle
from flows.usersource import user_source_sync
form = lambda f, name: f.parameters.model_dump()["properties"][name].get("default")
print(json.dumps({"sync": form(sync_cycle, "reports_dir"), "repair": form(repair_upn, "reports_dir"),
                  "user-source": form(user_source_sync, "reports_dir"), "reports": form(export_reports, "out_dir")}))
"""


def _defaults(reports_env: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TENANTSYNC_REPORTS_DIR"}
    if reports_env is not None:
        env["TENANTSYNC_REPORTS_DIR"] = reports_env
    out = subprocess.run([sys.executable, "-c", SHOW], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_flows_default_to_the_reports_folder_of_the_environment(tmp_path: Path) -> None:
    served = str(tmp_path / "served-reports")
    assert set(_defaults(served).values()) == {served}
    assert set(_defaults(None).values()) == {"data/reports"}
    assert set(_defaults("").values()) == {"data/reports"}       # set but empty: not a folder


def test_default_reports_dir_reads_the_environment(monkeypatch) -> None:
    from flows._common import default_reports_dir

    monkeypatch.setenv("TENANTSYNC_REPORTS_DIR", "/srv/tenantsync/reports")
    assert default_reports_dir() == "/srv/tenantsync/reports"
    monkeypatch.delenv("TENANTSYNC_REPORTS_DIR")
    assert default_reports_dir() == "data/reports"
