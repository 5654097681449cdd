"""What every part of the directory connector shares: the URL, the engine, one connector per URL
in a process, read and write transactions, and the helpers for long id lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, Self

from sqlalchemy import Connection, CursorResult, Table, delete
from sqlalchemy.engine import URL, make_url

from ...sql import PerUrl, aware, writer
from .schema import create_directory_engine, upgrade

CHUNK = 500                   # ids per IN (...) list


class DirectoryBase:
    """One application directory database. Thread-safe; every method is its own transaction."""

    _instances: ClassVar[PerUrl[Any]] = PerUrl()
    _cache: ClassVar[dict[str, Any]] = _instances.by_key   # the former name of the same mapping

    def __init__(self, url: str | URL, *, migrate: bool = True) -> None:
        self.url: URL = make_url(url)
        self.engine = create_directory_engine(self.url)
        self.writer = writer(self.engine)
        if migrate:
            try:
                self.revision = upgrade(self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    @classmethod
    def for_url(cls, url: str | URL) -> Self:
        """One connector per URL in this process (migrations run once, the pool is shared)."""
        return cls._instances.get(url, lambda: cls(url))

    @classmethod
    def cached(cls, url: str | URL) -> Self | None:
        """The connector ``for_url`` made for ``url``, if it is still open (None otherwise)."""
        return cls._instances.find(url)

    def close(self) -> None:
        self._instances.forget(self)
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.render_as_string(hide_password=True)!r})"

    @property
    def where(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn


def as_dict(r: Any) -> dict[str, Any]:
    """A result row as a dict, its times aware UTC."""
    d = dict(r)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = aware(v)
    return d


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT wrote (an auto-numbered id)."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i:i + CHUNK])


def select_in(conn: Connection, query: Any, column: Any, ids: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks(list(ids)):
        out.extend(conn.execute(query.where(column.in_(chunk))).mappings().all())
    return out


def delete_in(conn: Connection, table: Table, column: Any, ids: Sequence[str]) -> int:
    count = 0
    for chunk in chunks(list(ids)):
        count += conn.execute(delete(table).where(column.in_(chunk))).rowcount or 0
    return count
