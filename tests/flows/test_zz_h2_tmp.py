import contextlib

import pytest

from .test_other_flows import test_user_source_sync as _t

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_tmp(make_config, reports_dir, monkeypatch):
    import flows.usersource
    monkeypatch.setattr(flows.usersource, "cycle_lock", lambda *a, **k: contextlib.nullcontext())
    _t(make_config, reports_dir)
