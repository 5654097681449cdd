"""The error policy, one row per status code: what retries, what skips, what stops the job."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from kiota_abstractions.api_error import APIError
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from tenantsync.errors import ErrorKind, GraphError
from tenantsync.graph.errors import classify, from_response, parse_retry_after, redact, to_graph_error

K = ErrorKind


@pytest.mark.parametrize("status, kind", [
    (400, K.BAD_REQUEST), (401, K.AUTH), (403, K.FORBIDDEN), (404, K.NOT_FOUND),
    (405, K.BAD_REQUEST), (409, K.CONFLICT), (412, K.CONFLICT), (422, K.BAD_REQUEST),
    (429, K.TRANSIENT), (500, K.TRANSIENT), (502, K.TRANSIENT), (503, K.TRANSIENT),
    (504, K.TRANSIENT), (507, K.TRANSIENT), (0, K.TRANSIENT), (418, K.OTHER),
    (410, K.RESYNC),          # delta-query-overview: an expired delta link, start a full round
    (424, K.TRANSIENT),       # throttling: a batch with throttled items "fails with ... 424"
])
def test_each_status_has_its_kind(status, kind):
    assert classify(status) is kind
    err = to_graph_error(APIError("x", status, {}))
    assert err.kind is kind and err.status == status
    assert err.retryable is (kind is K.TRANSIENT)


@pytest.mark.parametrize("status, code, kind", [
    (410, "resyncRequired", K.RESYNC),        # errors page: "the app must reset the sync state"
    (400, "syncStateNotFound", K.RESYNC),     # delta-query-overview: "a 40X-series error"
    (404, "SyncStateNotFound", K.RESYNC),     # codes are matched whatever their casing
    (410, "", K.RESYNC),
    (400, "Request_BadRequest", K.BAD_REQUEST),
])
def test_an_expired_delta_link_needs_a_resync_whatever_its_status(status, code, kind):
    err = from_response(status, {}, {"error": {"code": code, "message": "gone"}})
    assert err.kind is kind and err.needs_resync is (kind is K.RESYNC)
    assert not err.retryable and not err.stops_job


def test_a_duplicate_upn_answered_400_objectconflict_is_a_conflict():
    assert classify(400, "ObjectConflict") is K.CONFLICT
    assert classify(400, "Request_BadRequest") is K.BAD_REQUEST


def test_odata_error_keeps_code_message_retry_after_and_request_id():
    exc = ODataError(error=MainError(code="TooManyRequests", message="Slow down"))
    exc.response_status_code = 429
    exc.response_headers = httpx.Headers({"Retry-After": "7", "request-id": "req-1"})
    err = to_graph_error(exc)
    assert (err.status, err.code, err.message, err.kind) == (429, "TooManyRequests", "Slow down",
                                                             K.TRANSIENT)
    assert err.retry_after == 7.0 and err.request_id == "req-1"


@pytest.mark.parametrize("exc, code", [
    (httpx.ConnectError("refused"), "connectFailed"),
    (httpx.ConnectTimeout("slow"), "connectFailed"),
    (httpx.ReadTimeout("slow"), "timeout"),
    (httpx.RemoteProtocolError("peer closed connection"), "connectionError"),
    (httpx.ReadError("reset"), "connectionError"),
    (TimeoutError(), "timeout"),
    (ServiceRequestError("token endpoint down"), "tokenEndpointUnavailable"),
])
def test_transport_failures_are_transient(exc, code):
    err = to_graph_error(exc)
    assert err.kind is K.TRANSIENT and err.status == 0 and err.code == code


def test_credential_failure_is_auth_and_keeps_only_the_aadsts_code():
    exc = ClientAuthenticationError("AADSTS7000215: Invalid client secret provided. secret=hunter2")
    err = to_graph_error(exc)
    assert err.kind is K.AUTH and err.code == "AADSTS7000215"
    assert "hunter2" not in str(err)


def test_tokens_are_redacted_from_server_messages():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    err = from_response(401, {}, {"error": {"code": "InvalidAuthenticationToken",
                                            "message": f"bad token Bearer abc.def {jwt}"}})
    assert "abc.def" not in str(err) and jwt not in str(err)
    assert redact("Authorization: bearer XYZ") == "Authorization: Bearer <redacted>"


def test_batch_item_headers_match_retry_after_case_insensitively():
    err = from_response(429, {"retry-after": "2"}, None)
    assert err.retry_after == 2.0 and err.code == "http429"


def test_retry_after_seconds_fractions_and_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after(date) <= 31


def test_a_graph_error_passes_through_unchanged():
    err = GraphError(404, "x", "y", kind=K.NOT_FOUND)
    assert to_graph_error(err) is err
