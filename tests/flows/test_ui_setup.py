"""What `make ui` leaves on its Prefect server (flows/ui.py ``setup``, flows/ui_setup.py): a described
work pool, the Graph connection and sync configuration blocks of the configurations, secrets masked
in the block form, and a block name that works as a run's ``config``. Against the suite's Prefect
test server (its blocks and deployments removed afterwards: other tests expect none)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from .flowkit import EMEA, HQ, run

POOL = "tenantsync-process"
CONNECTIONS, CONFIGS = {"emea", "hq"}, {"emea-to-hq", "emea-user-source"}
SECRET_BLOCKS = (("GraphConnectionBlock", "secret"), ("SmtpEmailBlock", "password"))


def _call(method: str, url: str, **kwargs) -> httpx.Response:
    """One request, again while the test server's SQLite database is busy (503) in a loaded suite."""
    for attempt in range(20):
        answer = httpx.request(method, url, timeout=30, **kwargs)
        if answer.status_code != 503:
            break
        time.sleep(0.2 * (attempt + 1))
    if not (method == "DELETE" and answer.status_code == 404):
        answer.raise_for_status()
    return answer


def _documents(api: str, slug: str, *, include_secrets: bool = False) -> dict[str, dict]:
    answer = _call("POST", f"{api}/block_documents/filter", json={
        "block_types": {"slug": {"any_": [slug]}}, "include_secrets": include_secrets})
    return {d["name"]: d for d in answer.json()}


@pytest.mark.parametrize(("block", "field"), SECRET_BLOCKS)
def test_the_block_form_masks_secrets_while_they_are_typed(block, field):
    # The UI draws a masked input for a string of format "password"; a nullable one (anyOf with
    # null) is first a choice between "password" and "null", shown as a plain text box in the old UI.
    import blocks

    cls = getattr(blocks, block)
    schema = cls._to_block_schema(block_type_id="00000000-0000-0000-0000-000000000000").fields
    prop = schema["properties"][field]
    assert "anyOf" not in prop
    assert (prop["type"], prop["format"], prop["writeOnly"]) == ("string", "password", True)
    assert field not in schema.get("required", [])              # may stay empty (no login, managed identity)
    assert schema["secret_fields"] == [field]
    assert getattr(cls.model_validate({field: None, **({"tenant_id": HQ} if field == "secret" else {})}),
                   field).get_secret_value() == ""              # a block saved when the field was Optional


@pytest.fixture
def suite_server(prefect_harness) -> Iterator[str]:
    """The API of the suite's Prefect test server, left as found: no block of these names, no deployment."""
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())

    def clean(before: set[str]) -> None:
        for slug, names in (("tenantsync-graph-connection", CONNECTIONS), ("tenantsync-sync-config", CONFIGS)):
            for name, doc in _documents(api, slug).items():
                if name in names:
                    _call("DELETE", f"{api}/block_documents/{doc['id']}")
        for d in _call("POST", f"{api}/deployments/filter", json={}).json():
            if d["id"] not in before:
                _call("DELETE", f"{api}/deployments/{d['id']}")

    before = {d["id"] for d in _call("POST", f"{api}/deployments/filter", json={}).json()}
    clean(before)
    try:
        yield api
    finally:
        clean(before)


def test_make_ui_saves_the_blocks_of_the_configurations_and_describes_the_work_pool(suite_server, make_config,
                                                                                   world, monkeypatch, tmp_path):
    from flows import ui
    from flows._common import resolve_config
    from flows.connection import test_connection
    from flows.ui_setup import POOL_DESCRIPTION, prepare

    api = suite_server
    env = {**ui.environment(4200, 8765, tmp_path / "home"), "PREFECT_API_URL": api,
           "TENANTSYNC_GRAPH_URL": world.url}
    sync, user_source = make_config(), make_config("user-source")
    # a pool left by an earlier `tenantsync deploy`, without a description
    if httpx.get(f"{api}/work_pools/{POOL}", timeout=30).status_code == 404:
        _call("POST", f"{api}/work_pools/", json={"name": POOL, "type": "process"})
    else:
        _call("PATCH", f"{api}/work_pools/{POOL}", json={"description": ""})

    ui.setup(env, [str(sync), str(user_source)])

    pool = _call("GET", f"{api}/work_pools/{POOL}").json()
    assert pool["description"] == POOL_DESCRIPTION and "prefect worker start" in pool["description"]

    connections = _documents(api, "tenantsync-graph-connection")
    assert set(connections) == CONNECTIONS                      # the user source uses emea only
    hq = connections["hq"]
    assert hq["data"]["tenant_id"] == HQ and hq["data"]["auth_kind"] == "static_token"
    assert hq["data"]["graph_url"] == world.url
    assert hq["data"]["secret"] != "hq-token" and "hq-token" not in str(hq)   # shown masked
    shown = hq["block_schema"]["fields"]["properties"]["secret"]             # the schema the server holds
    assert (shown["format"], shown["writeOnly"]) == ("password", True)
    stored = _documents(api, "tenantsync-graph-connection", include_secrets=True)
    assert stored["hq"]["data"]["secret"] == "hq-token" and stored["emea"]["data"]["secret"] == "emea-token"

    configs = _documents(api, "tenantsync-sync-config")
    assert set(configs) == CONFIGS
    text = configs["emea-to-hq"]["data"]["yaml"]
    assert "name: emea-to-hq" in text and "\nconnections:" not in text and "token_env" not in text
    assert "Graph connection blocks" in text                     # it says where its connections are

    # a run given the block's name as config: the configuration and its connections from blocks
    for variable in ("EMEA_TOKEN", "HQ_TOKEN"):                  # the secrets are the blocks'
        monkeypatch.delenv(variable)
    cfg = resolve_config("emea-to-hq")
    assert cfg.connection("emea").tenant_id == EMEA
    assert cfg.connection("hq").auth.secret.get_secret_value() == "hq-token"
    state, result = run(test_connection, config="emea-to-hq")
    assert state.is_completed(), state.message
    assert result["ok"] is True

    # again (a second `make ui`): nothing duplicated, an edited block kept as it is
    _call("PATCH", f"{api}/block_documents/{hq['id']}", json={"data": {**stored["hq"]["data"], "secret": "typed"},
                                                              "merge_existing_data": False})
    lines = prepare([sync, user_source], environ=env)
    assert any("'hq' kept" in line for line in lines) and any("'emea-to-hq' kept" in line for line in lines)
    assert _documents(api, "tenantsync-graph-connection", include_secrets=True)["hq"]["data"]["secret"] == "typed"
    assert set(_documents(api, "tenantsync-sync-config")) == CONFIGS
