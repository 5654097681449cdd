"""Helpers and sample ids shared by the flow tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples" / "tenants.json"
CONFIGS = REPO / "data" / "configs"

EMEA = "2cee517d-601a-44f9-82ff-f26697be201f"
HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
EMEA_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"
ZOE = "2c61be39-a49f-4975-a086-bbe7b399a465"          # in scope; HQ holds a pending B2B user for her
SVC_PRINT = "d43b950b-b3b2-41f9-9aca-f42173d76cf0"    # in the group, rejected by the scoping filter


def run(flow, **params):
    """Run a flow in-process; returns (state, the result's JSON form) whatever the outcome."""
    state = flow(return_state=True, **params)
    data = state.result(raise_on_failure=False)
    result = getattr(data, "result", data).as_dict()      # a ProcedureResult, also inside ProcedureFailed
    json.dumps(result)          # the JSON the command line prints with --json
    return state, result


def artifacts_of(state) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))


def logs_of(state) -> list:
    """The run's log lines as the UI shows them, after the API log worker has sent what it holds
    (it batches lines in the background; reading before it drains races it)."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[state.state_details.flow_run_id])), limit=200)


def flow_run_of(state):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def source_api(emulator, tenant_token: str = "emea-token", tenant_id: str = EMEA):
    from tenantsync.graph.api import GraphApi
    from tenantsync.graph.connection import AuthSettings, GraphConnection

    os.environ["TS_TEST_TOKEN"] = tenant_token
    return GraphApi(GraphConnection(name="t", tenant_id=tenant_id, graph_url=emulator.url,
                                    auth=AuthSettings(kind="static_token", token_env="TS_TEST_TOKEN")))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
