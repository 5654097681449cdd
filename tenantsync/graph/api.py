"""GraphApi: the sync face of the Graph connector (contract: docs/internals.md).

Thread-safe: every method hands a coroutine to the GraphApi's private event loop (loop.py) and
waits for it, so plain code, pytest and Prefect task threads can share one instance. Bulk data
comes back as raw JSON dicts; ``typed()`` runs an SDK call for the odd single object.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from tenantsync.errors import GraphError
from tenantsync.graph.batch import run_batch
from tenantsync.graph.client import build_client, build_credential
from tenantsync.graph.connection import GRAPH_SCOPES, GraphConnection
from tenantsync.graph.core import AsyncGraph, RetryPolicy, Stats, is_read_action, loads
from tenantsync.graph.errors import to_graph_error, translatable
from tenantsync.graph.loop import LoopThread
from tenantsync.graph.pages import collection_request, link_request, query
from tenantsync.graph.quota import LimiterSettings, WriteLimiter
from tenantsync.graph.shared_budget import gate_for
from tenantsync.graph.token_claims import UNKNOWN, TokenClaims, read_claims
from tenantsync.graph.urls import relative

T = TypeVar("T")


class DeltaRound:
    """One delta round: iterate ``pages()`` to the end, then read ``delta_link`` and store it.

    The link is only known after the last page; store it only once the changes are applied.
    """

    def __init__(self, api: GraphApi, first: Callable[[], Any],
                 headers: dict[str, str] | None = None) -> None:
        self._api = api
        self._first = first
        self._headers = headers
        self._started = False
        self.delta_link: str | None = None

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        if self._started:
            raise RuntimeError("a DeltaRound can be iterated once; start a new round with delta()")
        self._started = True
        for page in self._api._follow(self._first, self._headers):
            if "@odata.deltaLink" in page:
                self.delta_link = page["@odata.deltaLink"]
            yield page.get("value", [])

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        return self.pages()


class GraphApi:
    def __init__(self, connection: GraphConnection | Mapping[str, Any], *, read_only: bool = False,
                 max_concurrency: int = 4, max_retries: int = 6,
                 retry_policy: RetryPolicy | None = None,
                 limiter: LimiterSettings | WriteLimiter | None = None,  # not shared: one loop
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not isinstance(connection, GraphConnection):
            connection = GraphConnection.model_validate(connection)
        self.connection = connection
        self.read_only = read_only
        # Resolve the credential here, in the caller's thread: a missing env var is a
        # ConfigError at construction, not at the first request.
        credential = build_credential(connection.auth, connection.tenant_id,
                                      where=f"connections.{connection.name}.auth")
        policy = retry_policy or RetryPolicy(max_retries=max_retries)
        write_limiter = limiter if isinstance(limiter, WriteLimiter) else WriteLimiter(
            limiter, gate=gate_for(connection, read_only=read_only))    # one target, one budget
        self._credential = credential
        self._loop = LoopThread(name=f"graph-{connection.name}")

        async def start() -> AsyncGraph:
            # Built on the loop that will use it: httpx pools bind to their first loop.
            client = build_client(connection, credential=credential, transport=transport,
                                  read_only=read_only)
            return AsyncGraph(client, read_only=read_only, max_concurrency=max_concurrency,
                              policy=policy, limiter=write_limiter)

        self._init_args = {"read_only": read_only, "max_concurrency": max_concurrency,
                           "max_retries": max_retries}
        try:
            self._core: AsyncGraph = self._loop.run(start())
        except BaseException:
            self._loop.stop()              # e.g. ConfigError for the URL: leave no thread behind
            raise
        # An api that is dropped without close() still frees its thread, loop and sockets.
        self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._core, credential)

    # --- plumbing ------------------------------------------------------------------------
    @property
    def stats(self) -> Stats:
        return self._core.stats

    @property
    def limiter(self) -> WriteLimiter:
        return self._core.limiter

    @property
    def client(self) -> Any:
        """The GraphServiceClient (use it only through ``typed()``: it lives on our loop)."""
        return self._core.client

    def _run(self, coro: Awaitable[T]) -> T:
        return self._loop.run(coro)  # type: ignore[arg-type]

    def _follow(self, first: Callable[[], Any], headers: dict[str, str] | None = None
                ) -> Iterator[dict[str, Any]]:
        """Pages from ``first`` along @odata.nextLink. The next page is fetched while the caller
        works on the current one (one page ahead, never more)."""
        core = self._core
        future: concurrent.futures.Future[bytes | None] | None = self._loop.submit(
            core.send(first, method="GET"))
        try:
            while future is not None:
                page = loads(future.result()) or {}
                link = page.get("@odata.nextLink")
                future = None
                if link:
                    future = self._loop.submit(core.send(_link_maker(link, headers), method="GET"))
                yield page
        finally:
            if future is not None:
                future.cancel()

    # --- reads ---------------------------------------------------------------------------
    def iter_pages(self, resource: str, select: Sequence[str] | None = None,
                   filter: str | None = None, top: int = 999, count: bool = False,
                   expand: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Each page of ``resource`` (e.g. "users", "groups/ID/members") as raw dicts;
        ``expand`` e.g. "manager($select=id)" (user-list-manager: GET /users?$expand=manager)."""
        params = query(select, filter, top, count, expand)
        client = self._core.client
        for page in self._follow(lambda: collection_request(client, resource, params)):
            yield page.get("value", [])

    def delta(self, resource: str, select: Sequence[str] | None = None,
              members: bool = False, filter: str | None = None,
              link: str | None = None, page_size: int = 999) -> DeltaRound:
        """A delta round of "users" or "groups": from scratch, or from a stored ``link``.

        Delta takes no $top: the page size is asked for with ``Prefer: odata.maxpagesize``.
        ``members=True`` (groups) adds ``members`` to ``$select``: membership then arrives as
        ``members@delta`` on each group (group-delta: "You can use $select=members to get
        membership changes"). Never ``$expand``: delta-query-overview says "$expand is not
        supported" for users and groups. ``filter`` on groups/delta is ``id eq '..' or ...`` only,
        at most 50 ids (group-delta: "There is a limit of 50 filtered objects"); a caller with
        more reads the unfiltered round. An expired ``link`` raises a GraphError whose kind is
        RESYNC (410 Gone, resyncRequired, syncStateNotFound): start again without a link.
        """
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        if link:
            return DeltaRound(self, lambda: link_request(link, headers), headers)
        path = resource.strip("/")
        path = path if path.endswith("/delta") else f"{path}/delta"
        if members:
            select = list(dict.fromkeys([*(select or ["id"]), "members"]))
        params = query(select, filter)
        client = self._core.client
        return DeltaRound(self, lambda: collection_request(client, path, params, headers),
                          headers)

    def group_members(self, group_id: str, select: Sequence[str] | None = None
                      ) -> list[dict[str, Any]]:
        return [m for page in self.iter_pages(f"groups/{group_id}/members", select=select)
                for m in page]

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A small read as raw JSON, e.g. get_json("/organization"); ``params`` are encoded."""
        core = self._core
        if params:
            path = relative(path, params)
        return loads(self._run(core.send(lambda: core.raw_request("GET", path),
                                         method="GET"))) or {}

    # --- writes --------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any] | None:
        """One call outside $batch (an invitation, a test). Raises GraphError on failure."""
        core = self._core
        core.guard(method, path)
        writes = 0 if method.upper() == "GET" or is_read_action(method, path) else 1
        raw = self._run(core.send(lambda: core.raw_request(method, path, body),
                                  method=method, writes=writes))
        result: dict[str, Any] | None = loads(raw)
        return result

    def batch(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run ``requests`` via $batch; one {"status", "headers", "body"} each, in input order."""
        return self._run(run_batch(self._core, list(requests)))

    # --- typed SDK calls -----------------------------------------------------------------
    def typed(self, call: Callable[[Any], Awaitable[T]], *, retries: bool = True) -> T:
        """Run ``call(client)`` (an SDK coroutine) on our loop, errors translated.

        For low-volume single objects only: typed models cost ~10 ms per object. Read-only
        clients still refuse writes here (a transport-level guard in client.py).
        """
        core = self._core
        catch = translatable()

        async def once() -> T:
            try:
                core.stats.requests += 1
                return await call(core.client)
            except catch as exc:
                raise to_graph_error(exc) from None

        async def attempts() -> T:
            attempt = 0
            while True:
                try:
                    return await once()
                except GraphError as err:
                    if not retries or not core.policy.allows(err, attempt, idempotent=True):
                        raise
                    delay = core.policy.delay(attempt, err.retry_after)
                attempt += 1
                core.stats.retries += 1
                await asyncio.sleep(delay)

        return self._run(attempts())

    # --- the credential's own facts -------------------------------------------------------
    def token_claims(self) -> TokenClaims:
        """Granted application roles, appId and tenant of the connection's current access token
        (read, never verified; the token itself never leaves this method). Roles are None when
        the token is opaque; a credential that cannot get a token also gives UNKNOWN (the first
        request then reports why)."""
        credential = self._credential

        async def fetch() -> TokenClaims:
            try:
                token = await credential.get_token(*GRAPH_SCOPES)
            except Exception:
                return UNKNOWN
            return read_claims(getattr(token, "token", None))

        return self._run(fetch())

    @property
    def granted_roles(self) -> frozenset[str] | None:
        """The application permissions in the current token, or None when they cannot be read."""
        return self.token_claims().roles

    @property
    def app_id(self) -> str | None:
        """The appId (client id) the current token was issued to, when the token says so."""
        return self.token_claims().app_id

    def get_organization(self) -> Any:
        """The tenant's Organization as the SDK's typed model (proof that typed calls work)."""
        page = self.typed(lambda client: client.organization.get())
        return page.value[0] if page and page.value else None

    # --- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        self._finalizer()                     # runs _shutdown once, whoever calls first

    def __enter__(self) -> GraphApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as a recipe (connection + options), never as a live client: Prefect can hash
        a GraphApi task argument, and another process rebuilds its own. A block's secret is
        left out (it would sit in the pickle); the copy reads the env variable instead."""
        auth = self.connection.auth.model_copy(update={"secret": None})
        connection = self.connection.model_copy(update={"auth": auth})
        return (_rebuild, (connection, self._init_args))

    def __repr__(self) -> str:
        return (f"GraphApi({self.connection.name!r}, {self.connection.base_url!r}, "
                f"read_only={self.read_only})")


def _link_maker(link: str, headers: dict[str, str] | None) -> Callable[[], Any]:
    return lambda: link_request(link, headers)


def _rebuild(connection: GraphConnection, options: dict[str, Any]) -> GraphApi:
    return GraphApi(connection, **options)


def _shutdown(loop: LoopThread, core: AsyncGraph, credential: Any) -> None:
    async def shutdown() -> None:
        await core.aclose()
        close = getattr(credential, "close", None)
        if close is not None:
            await close()

    loop.stop(shutdown())
