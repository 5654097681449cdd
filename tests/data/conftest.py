"""Shared loading for the tests of data/ and bench/generate.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def load_make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", DATA / "samples" / "make_samples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def samples() -> ModuleType:
    return load_make_samples()


@pytest.fixture(scope="session")
def fixture() -> dict[str, Any]:
    return json.loads((DATA / "samples" / "tenants.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tenants(fixture: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["displayName"]: t for t in fixture["tenants"]}

