"""The emulator's request pipeline: fault -> authenticate -> route -> throttle -> handler.

The same pipeline serves HTTP requests and $batch items (`req.is_item`), so every item is
authenticated, throttled and exposed to faults on its own, as Graph does.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from tenantsync.emulator import permissions
from tenantsync.emulator.directory import Directory
from tenantsync.emulator.faults import Faults, FaultSpec, fault_headers
from tenantsync.emulator.fixture import load_directory
from tenantsync.emulator.odata import ODataError
from tenantsync.emulator.protocol import JSON_CONTENT_TYPE, GraphHttpError, GraphRequest, GraphResponse, error_response
from tenantsync.emulator.routing import Router
from tenantsync.emulator.stats import Stats
from tenantsync.emulator.throttle import Throttle, request_cost
from tenantsync.emulator.tokens import plain_app_id

log = logging.getLogger("tenantsync.emulator")

_FAULT_ERRORS = {
    "429": ("TooManyRequests", "Too many requests. Please retry after the number of seconds in "
            "the Retry-After header."),
    "500": ("InternalServerError", "An internal server error occurred. Please retry later."),
    "502": ("BadGateway", "The gateway received an invalid response. Please retry later."),
    "503": ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    "504": ("GatewayTimeout", "The gateway timed out waiting for the service. Please retry later."),
}


FREEZE_ABOVE_USERS = 20_000


def _load(fixture: dict | str | Path) -> Directory:
    """Load a fixture with the cyclic GC paused; freeze a large result out of GC scans.

    A 100,000-user directory is millions of objects: without this every full collection walks
    them all (seconds while loading, stalls while serving pages). Small directories are not
    frozen, so that garbage of a long test session stays collectable.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        directory = load_directory(fixture)
    finally:
        if was_enabled:
            gc.enable()
    if sum(len(t.users) for t in directory.tenants.values()) > FREEZE_ABOVE_USERS:
        gc.collect()            # what is garbage now must not be frozen with the directory
        gc.freeze()
    return directory


class Emulator:
    """State and settings of one emulator instance; `handle` answers one Graph call."""

    def __init__(self, fixture: dict | str | Path | None, *, router: Router,
                 throttle: str | None = None, time_scale: float = 1.0,
                 faults: str | dict | FaultSpec | None = None, latency_ms: int = 0,
                 delta_token_ttl: float | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if delta_token_ttl is not None and delta_token_ttl <= 0:
            raise ValueError("delta_token_ttl must be > 0 seconds")
        self.router = router
        self.throttle_profile = None if throttle in (None, "", "none", "off") else throttle
        self.time_scale = float(time_scale)
        self.latency_ms = int(latency_ms)
        self.directory = _load(fixture) if fixture is not None else Directory([])
        # The control API loads fixture files from this folder only (control.py).
        self.fixture_dir = (Path(fixture).resolve().parent if isinstance(fixture, (str, Path))
                            else None)
        self.throttle = self._new_throttle()
        self.faults = Faults(faults)
        self.stats = Stats()
        self.batch_count = 0
        self._app_ids: dict[str, str] = {}
        # delta.py: links older than the TTL (seconds, None: never) or issued before the last
        # expire_delta_tokens() answer 410 Gone.
        self.delta_token_ttl = delta_token_ttl
        self.delta_epoch = 0

    def _new_throttle(self) -> Throttle | None:
        if self.throttle_profile is None:
            return None
        return Throttle(self.throttle_profile, self.time_scale)

    # -- control ---------------------------------------------------------------------------
    def load(self, fixture: dict | str | Path) -> None:
        """Replace every tenant (throttle budgets start full again)."""
        self.directory = _load(fixture)
        self.throttle = self._new_throttle()

    def expire_delta_tokens(self) -> int:
        """Make every delta/skip token issued so far answer 410 Gone; returns the new epoch."""
        self.delta_epoch += 1
        return self.delta_epoch

    def set_faults(self, spec: str | dict | FaultSpec | None) -> None:
        """Replace the fault settings (the random sequence restarts from the seed)."""
        self.faults = Faults(spec)

    @property
    def delay_seconds(self) -> float:
        """Latency added to every /v1.0 HTTP request."""
        return (self.latency_ms + self.faults.spec.latency_ms) / 1000.0

    def app_id(self, token: str) -> str:
        """A stable GUID for the app behind an opaque `token` (tokens.plain_app_id)."""
        app = self._app_ids.get(token)
        if app is None:
            app = self._app_ids[token] = plain_app_id(token)
        return app

    # -- pipeline --------------------------------------------------------------------------
    def handle(self, req: GraphRequest) -> GraphResponse:
        """Answer one Graph call (HTTP request or $batch item)."""
        req.emulator = self
        route, params, path_known = self.router.match(req.method, req.route_path)
        req.template = route.template if route else "<unmatched>"
        units, writes = request_cost(req.method, req.template, req.query) if route else (1, 0)
        fault = self.faults.draw()
        throttled = False
        if fault:
            if fault == "drop" and req.is_item:
                fault = "504"          # an item cannot drop a connection: the gateway times out
            resp = self._fault_response(req, fault)
            units = 0
        else:
            resp, throttled, charged = self._serve(req, route, params, path_known, units, writes)
            units = units if charged else 0
        if not resp.drop:
            headers = resp.headers
            headers["request-id"] = req.request_id
            headers["client-request-id"] = req.headers.get("client-request-id", req.request_id)
            headers["x-ms-resource-unit"] = str(units)
            if resp.body is not None and "Content-Type" not in headers:
                headers["Content-Type"] = JSON_CONTENT_TYPE
        self.stats.record(req.method, req.template, resp.status, item=req.is_item,
                          write=bool(writes), units=units, throttled=throttled, fault=fault)
        return resp

    def _fault_response(self, req: GraphRequest, fault: str) -> GraphResponse:
        if fault == "drop":
            return GraphResponse(0, drop=True)
        code, message = _FAULT_ERRORS[fault]
        return error_response(req, int(fault), code, message, fault_headers(fault))

    def _serve(self, req: GraphRequest, route, params: dict, path_known: bool, units: int,
               writes: int) -> tuple[GraphResponse, bool, bool]:
        """(response, throttled, charged)."""
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return error_response(req, 401, "InvalidAuthenticationToken",
                                  "Access token is empty."), False, False
        tenant = self.directory.by_token.get(token)
        if tenant is None:
            return error_response(req, 401, "InvalidAuthenticationToken",
                                  "Access token validation failure. Invalid audience."), \
                False, False
        req.tenant = tenant
        grant = tenant.grants.get(token)
        req.app_id, req.roles = grant if grant else (self.app_id(token), None)
        if req.refusal is not None:                # a malformed query (protocol.parse_query)
            exc = req.refusal
            return error_response(req, exc.status, exc.code, exc.message), False, False
        if route is None:
            if path_known:
                return error_response(req, 405, "Request_BadRequest",
                                      f"The HTTP method '{req.method}' is not allowed for "
                                      f"'{req.path}'."), False, False
            segment = req.path.rstrip("/").rsplit("/", 1)[-1]
            return error_response(req, 400, "BadRequest",
                                  f"Resource not found for the segment '{segment}'. "
                                  f"(tenantsync emulator: no route for {req.method} {req.path})"), \
                False, False
        denial = permissions.check(req, req.method, route.template)
        if denial is not None:                     # after authentication, before throttling
            return denial, False, False
        headers: dict[str, str] = {}
        if self.throttle is not None and (units or not req.is_item):
            # an HTTP request (a $batch envelope too) also counts against the app's request rate
            verdict = self.throttle.check(req.app_id, tenant.id, len(tenant.users), units, writes,
                                          requests=0 if req.is_item else 1)
            if not verdict.allowed:
                return error_response(req, 429, "TooManyRequests",
                                      f"Too many requests ({verdict.information}). Please retry "
                                      f"after {verdict.retry_after} seconds.",
                                      verdict.headers), True, False
            headers = verdict.headers
        try:
            resp = route.handler(req, **params)
        except GraphHttpError as exc:
            resp = error_response(req, exc.status, exc.code, exc.message, exc.headers)
        except ODataError as exc:
            resp = error_response(req, 400, exc.code, str(exc))
        except Exception:                          # a bug in the emulator: answer like Graph
            log.exception("emulator handler failed for %s %s", req.method, req.path)
            resp = error_response(req, 500, "UnknownError",
                                  "The tenantsync emulator failed on this request.")
        if headers:
            resp.headers.update(headers)
        return resp, False, True
