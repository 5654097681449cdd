"""One target, one budget: the write gate shared by every cycle that writes into one tenant with one app.

Graph's write budget belongs to an application in a tenant (3,000 writes per 150 s), and the tenant
has one for every application together (18,000 per 5 minutes); throttling-limits. Cycles of several
configurations that write into the same target with the same application, in several processes or
on several machines, spend the same budget. Each cycle's adaptive limiter (quota.py) learns only
its own share and keeps the ratio it started with (its cuts and growth are multiplicative), so one
configuration can starve the others (docs/internals.md, "One target, one budget", has the figures).

The engine does not know how the processes meet: whoever runs the cycles installs a factory here
(the Prefect layer does, flows/_budget.py), and a Graph client that writes asks it for the gate of
its target and application. A gate is a plain blocking callable: ``gate(n)`` returns once n writes
may be sent. The adaptive limiter still paces behind the gate: it reacts to 429s caused by writers
outside the gate (another application, an administrator).

``SqlBudget`` is such a gate over a SQL database every writer reaches (a SQLite file on one host,
PostgreSQL across hosts): Graph's token bucket as a GCRA, one row per budget holding its
theoretical arrival time. A writer reserves its n writes in one short transaction (the row
locked: BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL) and sleeps until its slot:
first come, first served, so writers asking alike get alike, and nobody polls.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from sqlalchemy import Column, Float, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from tenantsync.graph.connection import GraphConnection
from tenantsync.graph.token_claims import read_claims

WriteGate = Callable[[int], None]
GateFactory = Callable[[str, str], "WriteGate | None"]     # (tenant id, application id) -> gate

_factory: GateFactory | None = None


def install(factory: GateFactory | None) -> None:
    """Use ``factory`` for the Graph clients made from now on (None: no shared gate)."""
    global _factory
    _factory = factory


def installed() -> GateFactory | None:
    return _factory


def application_of(connection: GraphConnection) -> str:
    """Who spends the budget: the client id, else the token's appId claim, else (an opaque token,
    e.g. the emulator's) the name of the environment variable that holds it. Never the secret."""
    auth = connection.auth
    if auth.client_id:
        return auth.client_id
    token = auth.secret.get_secret_value() if auth.secret else (
        os.environ.get(auth.token_env) if auth.token_env else None)
    claims = read_claims(token)
    if claims.app_id:
        return claims.app_id
    return f"env-{auth.token_env or connection.name}"


def budget_key(tenant_id: str, app_id: str) -> str:
    """A name for the budget of one application in one tenant: letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", f"graph-writes-{tenant_id}-{app_id}".lower()).strip("-")


def gate_for(connection: GraphConnection, *, read_only: bool = False) -> WriteGate | None:
    """The installed factory's gate for a client of ``connection`` (None: it does not write, or no
    factory is installed)."""
    if read_only or _factory is None:
        return None
    return _factory(connection.tenant_id, application_of(connection))


_meta = MetaData()
budgets = Table("ts_write_budget", _meta,
                Column("key", String(200), primary_key=True),
                Column("tat", Float, nullable=False))    # tokens at t: min(burst, (t - tat) × rate)


class SqlBudget:
    """Token buckets (capacity ``burst`` writes, refilled at ``per_second``) kept in a database."""

    def __init__(self, url: str, *, per_second: float, burst: float,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from tenantsync.sql import open_engine, writer

        if per_second <= 0 or burst < 0:
            raise ValueError("per_second must be > 0 and burst >= 0")
        self.per_second, self.burst = per_second, burst
        self._clock, self._sleep = clock, sleep
        self._engine = writer(open_engine(url))
        with self._engine.begin() as conn:    # the write lock first: several processes start at once
            _meta.create_all(conn)

    def reserve(self, key: str, writes: int) -> float:
        """Take ``writes`` from budget ``key``; returns when (epoch s) they may be sent."""
        cost, tau = writes / self.per_second, self.burst / self.per_second
        for _ in range(3):
            now = self._clock()
            try:
                with self._engine.begin() as conn:
                    tat = conn.execute(select(budgets.c.tat).where(budgets.c.key == key)
                                       .with_for_update()).scalar()
                    new = max(tat if tat is not None else now - tau, now - tau) + cost
                    if tat is None:
                        conn.execute(budgets.insert().values(key=key, tat=new))
                    else:
                        conn.execute(update(budgets).where(budgets.c.key == key).values(tat=new))
                return new
            except IntegrityError:       # another writer made the row meanwhile: read it again
                continue
        raise RuntimeError(f"write budget {key}: could not reserve")

    def gate(self, key: str) -> WriteGate:
        def wait(writes: int) -> None:
            delay = self.reserve(key, writes) - self._clock()
            if delay > 0:
                self._sleep(delay)
        return wait


__all__ = ["SqlBudget", "budgets", "GateFactory", "WriteGate", "application_of", "budget_key", "gate_for", "install", "installed"]
