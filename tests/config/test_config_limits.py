"""What the defensive reading of a configuration still accepts, and where its limits sit.

The refusals themselves run through the command line in tests/corpus/test_config_corpus.py; these
tests pin the other side: anchors and merge keys within the limits, a UTF-8 byte order mark,
tenantsync's own default state folder, an emulator in a container, PostgreSQL URLs, and that only
the connections a configuration uses need their credentials.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenantsync.config import load_config
from tenantsync.errors import ConfigError
from tenantsync.usersource import load_user_source_config
from tenantsync.yamlfile import MAX_ALIASES, MAX_VALUES, load_yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "tests/corpus/configs/valid-sync.yaml").read_text(encoding="utf-8")
EMEA = "2cee517d-601a-44f9-82ff-f26697be201f"


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", "http://127.0.0.1:9/v1.0")
    monkeypatch.setenv("EMEA_TOKEN", "emea-token")
    monkeypatch.setenv("HQ_TOKEN", "hq-token")


def write(tmp_path: Path, text: str | bytes, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_anchors_and_merge_keys_within_the_limit_still_work(tmp_path):
    text = BASE.replace("connections:\n  emea:\n", "common: &auth {kind: static_token, token_env: EMEA_TOKEN}\n"
                        "connections:\n  emea:\n")
    text = text.replace("    auth: {kind: static_token, token_env: EMEA_TOKEN}\n", "    auth: *auth\n")
    data, lines = load_yaml(write(tmp_path, text + "merged:\n  <<: {a: 1}\n  b: 2\n"))
    assert data["connections"]["emea"]["auth"] == {"kind": "static_token", "token_env": "EMEA_TOKEN"}
    assert data["merged"] == {"a": 1, "b": 2}
    # an error under an alias names the alias's line, not the anchor's
    assert lines[("connections", "emea", "auth")] == text.splitlines().index("    auth: *auth") + 1


def test_the_alias_limit_counts_uses_not_anchors(tmp_path):
    uses = "".join(f"u{i}: *a\n" for i in range(MAX_ALIASES))
    load_yaml(write(tmp_path, "a: &a [1, 2]\n" + uses))
    with pytest.raises(ConfigError, match=f"more than {MAX_ALIASES} aliases"):
        load_yaml(write(tmp_path, "a: &a [1, 2]\n" + uses + "last: *a\n"))


def test_a_long_flat_document_meets_the_value_limit(tmp_path):
    with pytest.raises(ConfigError, match="expands to more than") as info:
        load_yaml(write(tmp_path, "x: [" + ",".join(["1"] * (MAX_VALUES + 1)) + "]\n"))
    assert info.value.line == 1 and info.value.key.startswith("x[")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    cfg = load_config(write(tmp_path, b"\xef\xbb\xbf" + BASE.encode()))
    assert cfg.name == "corpus-sync"


def test_the_default_state_folder_is_allowed_and_loading_creates_nothing(tmp_path):
    path = write(tmp_path, BASE + "state: sqlite:///data/state/corpus-sync.db\n")
    assert load_config(path, credentials=True).state_url == "sqlite:///data/state/corpus-sync.db"
    assert sorted(os.listdir(tmp_path)) == ["cfg.yaml"]
    # the same folder named absolutely is an ordinary directory: it must exist
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(write(tmp_path, BASE + f"state: sqlite:///{tmp_path}/data/state/x.db\n"))
    assert info.value.key == "state" and info.value.line == BASE.count("\n") + 1


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://ts@db.example.com/ts",
                                 "postgresql://ts:pw@db.example.com:5432/ts?options=-csearch_path%3Dts"])
def test_memory_and_postgresql_state_urls_are_accepted_without_connecting(tmp_path, url):
    assert load_config(write(tmp_path, BASE + f'state: "{url}"\n')).state == url


def test_a_password_in_a_bad_state_url_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE + 'state: "mysql://ts:s3cret@db/ts"\n'))
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("url", ["http://localhost:8765/v1.0", "http://127.0.0.1:8765/v1.0", "http://[::1]:8765/v1.0",
                                 "https://graph.microsoft.com/v1.0", "https://graph.microsoft.us/v1.0/"])
def test_https_and_this_machine_are_accepted(tmp_path, monkeypatch, url):
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", url)
    assert load_config(write(tmp_path, BASE)).connection("emea").graph_url == url


def test_allow_http_admits_an_emulator_in_a_container_with_its_static_token(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", "http://graph-emulator:8080/v1.0")
    with pytest.raises(ConfigError, match="plain http"):
        load_config(write(tmp_path, BASE))
    text = BASE.replace("    auth: {kind: static_token", "    allow_http: true\n    auth: {kind: static_token")
    cfg = load_config(write(tmp_path, text))
    assert cfg.connection("hq").allow_http and cfg.connection("hq").base_url == "http://graph-emulator:8080/v1.0"


def test_credentials_are_checked_only_when_asked_and_only_for_used_connections(tmp_path, monkeypatch):
    monkeypatch.delenv("HQ_TOKEN")
    path = write(tmp_path, BASE)
    load_config(path)                                  # deploy, report: no credential needed
    with pytest.raises(ConfigError, match="HQ_TOKEN is not set") as info:
        load_config(path, credentials=True)
    assert info.value.key == "connections.hq.auth.token_env" and "hq-token" not in str(info.value)
    # the sample user source defines hq but uses emea only: HQ_TOKEN is not needed
    sample = (ROOT / "data/configs/user-source.yaml").read_text(encoding="utf-8")
    (tmp_path / "data" / "state").mkdir(parents=True)
    cfg = load_user_source_config(write(tmp_path, sample, "us.yaml"), credentials=True)
    assert cfg.source.connection == "emea"


def test_a_guid_in_upper_case_is_a_guid(tmp_path):
    cfg = load_config(write(tmp_path, BASE.replace(EMEA, EMEA.upper())))
    assert cfg.connection("emea").tenant_id == EMEA.upper()


def test_a_regex_filter_is_checked_by_the_compiler_scoping_runs():
    """.NET named groups `(?<name>...)` are accepted (scoping runs them); a broken pattern is not."""
    from tenantsync.config import FilterClause

    assert FilterClause(attribute="employeeId", operator="REGEX MATCH", value=r"(?<n>\d+)").value
    with pytest.raises(ValueError, match="invalid regular expression '\\('"):
        FilterClause(attribute="employeeId", operator="REGEX MATCH", value="(")
