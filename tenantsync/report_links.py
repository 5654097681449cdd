"""Where a report file opens: the link a run gives for it (docs/contracts.md#report-links).

Three places, the first that applies:

1. **A remote store** (production): ``TENANTSYNC_REPORTS_STORE`` is an fsspec URL, e.g.
   ``az://reports/tenantsync`` (Azure Blob Storage; ``pip install 'tenantsync[azure]'`` for adlfs),
   ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``file:///mnt/share/reports``. Each report file is
   uploaded after it is written, under ``<store>/<configuration>/<file>`` (the same layout as the
   reports folder), and its link names the object:

   - ``az://`` / ``abfs://``: ``https://<account>.blob.core.windows.net/<container>/<blob>``, the blob's
     URL ("Naming and Referencing Containers, Blobs, and Metadata"); the account is the query's
     ``account_name``, ``AZURE_STORAGE_ACCOUNT_NAME``, the ``AccountName`` of a connection string or
     the host of ``abfs://<container>@<account>.dfs.core.windows.net``. A private container's blob
     opens for someone signed in through the portal or with a SAS; the link names it all the same.
   - ``gs://``: ``https://storage.googleapis.com/<bucket>/<object>``; ``s3://``:
     ``https://<bucket>.s3.amazonaws.com/<key>``, or ``<endpoint_url>/<bucket>/<key>`` when the query
     names an ``endpoint_url`` (MinIO and other S3-compatible stores);
   - ``file://``: the file's ``file://`` URI in the store's folder;
   - any other protocol (``memory://`` in the tests): the object's fsspec URL, which has no public form.

   The URL's query string holds the filesystem's options (``?account_name=acct&sas_token=...``):
   they are credentials, never shown: logs, links, artifact texts and error messages name the store
   by its URL without query string or password (``shown``). Better still, leave credentials to the
   provider's own environment (``AZURE_STORAGE_CONNECTION_STRING``, a managed identity, ...).
2. **The served reports folder** (``make ui``): ``TENANTSYNC_REPORTS_URL`` is the base URL of an HTTP
   server of the folder ``TENANTSYNC_REPORTS_DIR`` (default ``data/reports``); a file under that
   folder is linked as ``<url>/<configuration>/<file>``.
3. Otherwise the ``file://`` URI of the file on the worker's disk, with a note saying how to open
   it (a browser does not follow a ``file://`` link from a web page such as the Prefect UI).

An upload that fails leaves the file on disk and gives its local link, the note saying why (the
message with every credential masked). Nothing here needs Prefect.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

STORE_ENV = "TENANTSYNC_REPORTS_STORE"
URL_ENV = "TENANTSYNC_REPORTS_URL"
DIR_ENV = "TENANTSYNC_REPORTS_DIR"
DEFAULT_DIR = "data/reports"
MASK = "***"
# Options of the URL's query that name a place, not a credential (shown in links); every other is masked.
PUBLIC_OPTIONS = frozenset({"account_name", "endpoint_url", "region_name", "project", "anon", "use_ssl"})

Where = Literal["store", "served", "file"]


@dataclass(frozen=True)
class Link:
    """A report's link: ``url`` (what a link artifact opens), ``where`` it points, and ``note``: how to
    open it (empty when the link opens from a browser as it is)."""

    url: str
    where: Where
    path: str
    note: str = ""
    error: str = ""             # why an upload failed (credentials masked); empty when it did not


@dataclass(frozen=True)
class ReportStore:
    """The remote store of TENANTSYNC_REPORTS_STORE. ``options`` (from the URL's query string) are
    passed to the fsspec filesystem and never shown; ``shown`` is the URL without them."""

    protocol: str
    netloc: str
    prefix: str
    options: dict[str, Any] = field(repr=False, default_factory=dict)
    secrets: tuple[str, ...] = field(repr=False, default=())

    @classmethod
    def parse(cls, url: str) -> ReportStore:
        parts = urlsplit(url.strip())
        if not parts.scheme or "://" not in url:
            raise ValueError(f"{STORE_ENV} must be an fsspec URL such as az://container/prefix "
                             f"(got {_shown(url)!r})")
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        options: dict[str, Any] = {k: _option(v) for k, v in pairs}
        secrets = [v for k, v in pairs if len(v) >= 4 and k not in PUBLIC_OPTIONS]
        if parts.query:
            secrets.append(parts.query)
        netloc = parts.netloc
        if parts.password:          # user:password@host: the password is a credential too
            secrets.append(parts.password)
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
        return cls(protocol=parts.scheme.lower(), netloc=netloc, prefix=parts.path.strip("/"),
                   options=options, secrets=tuple(sorted(set(secrets), key=len, reverse=True)))

    @property
    def shown(self) -> str:
        """The store's URL as logs and artifacts show it: no query string, no password."""
        return urlunsplit((self.protocol, self.netloc, "/" + self.prefix if self.prefix else "", "", ""))

    def key(self, relative: str) -> str:
        return "/".join(p for p in (self.prefix, relative.strip("/")) if p)

    def mask(self, text: str) -> str:
        """``text`` with every credential of the URL replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
        return text

    def object_url(self, relative: str) -> str:
        """The link of an uploaded object (the module's docstring says which form)."""
        key, container = self.key(relative), self.netloc.split("@", 1)[0]
        encoded = quote(key)
        if self.protocol in ("az", "abfs", "abfss"):
            account = self._azure_account()
            if account:
                return f"https://{account}.blob.core.windows.net/{quote(container)}/{encoded}"
        elif self.protocol in ("gs", "gcs"):
            return f"https://storage.googleapis.com/{quote(container)}/{encoded}"
        elif self.protocol in ("s3", "s3a"):
            endpoint = str(self.options.get("endpoint_url") or "").rstrip("/")
            if endpoint:
                return self.mask(f"{endpoint}/{quote(container)}/{encoded}")
            return f"https://{container}.s3.amazonaws.com/{encoded}"
        elif self.protocol in ("file", "local"):
            return Path("/" + key if self.netloc in ("", "localhost") else f"//{self.netloc}/{key}").as_uri()
        return urlunsplit((self.protocol, self.netloc, "/" + key, "", ""))

    def _azure_account(self) -> str:
        if "@" in self.netloc:              # abfs://<container>@<account>.dfs.core.windows.net
            return self.netloc.split("@", 1)[1].split(".", 1)[0]
        account = self.options.get("account_name") or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if account:
            return str(account)
        text = str(self.options.get("connection_string") or os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or "")
        for item in text.split(";"):
            name, _, value = item.partition("=")
            if name.strip().lower() == "accountname":
                return value.strip()
        return ""

    def upload(self, local: Path, relative: str) -> str:
        """Copy ``local`` to the object ``relative`` (under the prefix); returns its link. Errors
        are ReportStoreError with the credentials masked."""
        try:
            from fsspec.core import url_to_fs
            from fsspec.implementations.local import LocalFileSystem

            fs, base = url_to_fs(urlunsplit((self.protocol, self.netloc, "/" + self.prefix, "", "")),
                                 **self.options)
            target = "/".join(p for p in (base.rstrip("/"), relative.strip("/")) if p)
            if isinstance(fs, LocalFileSystem):
                fs.makedirs(fs._parent(target), exist_ok=True)
            fs.put_file(str(local), target)
        except ImportError as exc:
            hint = " (pip install 'tenantsync[azure]')" if self.protocol in ("az", "abfs", "abfss") else ""
            raise ReportStoreError(self.mask(f"{self.shown}: {exc}{hint}")) from None
        except Exception as exc:
            raise ReportStoreError(self.mask(f"could not upload {local.name} to {self.shown}: "
                                             f"{type(exc).__name__}: {exc}")) from None
        return self.object_url(relative)


class ReportStoreError(Exception):
    """An upload failed; the message names the store without its credentials."""


def _option(value: str) -> Any:
    return {"true": True, "false": False}.get(value.lower(), value)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1] if parts.password else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def configured_store() -> ReportStore | None:
    """The store of TENANTSYNC_REPORTS_STORE, None when it is unset or empty."""
    url = os.environ.get(STORE_ENV, "").strip()
    return ReportStore.parse(url) if url else None


# -- relative names ----------------------------------------------------------------------------

_roots: list[Path] = []
_lock = threading.Lock()
_uploaded: dict[tuple[str, str, int, int], tuple[str, str]] = {}     # -> (link, error)


def served_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR).resolve()


def remember_root(root: str | Path) -> None:
    """A reports root this process writes under (an export's ``out_dir``): files under it keep
    their path below it in the store."""
    path = Path(root).resolve()
    with _lock:
        if path not in _roots:
            _roots.append(path)


def relative_name(path: Path, root: str | Path | None = None) -> str:
    """``<configuration>/<file>`` (or ``<configuration>/<cycleId>/<file>``): the path below the
    reports root it was written under (``root``, else the deepest known root holding it: an
    export's out_dir inside the served folder wins); outside every known root, its folder and name."""
    if root and path.is_relative_to(Path(root).resolve()):
        return path.relative_to(Path(root).resolve()).as_posix()
    with _lock:
        known = [served_dir(), *_roots]
    holding = [base for base in known if path.is_relative_to(base)]
    if holding:
        return path.relative_to(max(holding, key=lambda p: len(p.parts))).as_posix()
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


# -- links -------------------------------------------------------------------------------------

def report_link(path: str | Path, root: str | Path | None = None) -> Link:
    """The link of a report file written on this machine: uploaded to the configured store (once
    per version of the file), else on the served folder, else its file:// URI with a note."""
    local = Path(path).resolve()
    error = ""
    try:
        store = configured_store()
    except ValueError as exc:
        store, error = None, str(exc)
    if store is not None:
        try:
            return Link(upload(local, root, store), "store", str(local))
        except ReportStoreError as exc:
            error = str(exc)
    served = os.environ.get(URL_ENV, "").strip().rstrip("/")
    if served and local.is_relative_to(served_dir()):
        rel = local.relative_to(served_dir()).as_posix()
        note = f"Upload failed: {error}. The link opens the copy served by `make ui`." if error else ""
        return Link(f"{served}/{quote(rel)}", "served", str(local), note=note, error=error)
    note = (f"The file is on the worker's disk: {local}. A browser does not open file:// links from "
            f"the Prefect UI: `make ui` serves the reports folder ({DEFAULT_DIR}) over HTTP, and "
            f"{STORE_ENV} uploads every report to a store (docs/contracts.md#report-links).")
    if served:
        note += f" This file is outside the served folder {served_dir()}."
    if error:
        note = f"Upload failed: {error}. " + note
    return Link(local.as_uri(), "file", str(local), note=note, error=error)


def upload(local: Path, root: str | Path | None, store: ReportStore) -> str:
    """Upload ``local`` unless this version of it (size, modification time) already was, or already
    failed (one slow refusal per file, not one per link to it)."""
    try:
        stat = local.stat()
    except OSError as exc:
        raise ReportStoreError(f"{local.name} cannot be read: {exc.strerror}") from None
    key = (store.shown + "|" + str(local), relative_name(local, root), stat.st_size, stat.st_mtime_ns)
    with _lock:
        done = _uploaded.get(key)
    if done is None:
        try:
            done = (store.upload(local, key[1]), "")
        except ReportStoreError as exc:
            done = ("", str(exc))
        with _lock:
            _uploaded[key] = done
    if done[1]:
        raise ReportStoreError(done[1])
    return done[0]


def publish(paths: dict[str, str], root: str | Path) -> dict[str, Link]:
    """Upload every file of an export (``name -> path`` under ``root``) to the configured store, if
    any; returns each file's link."""
    remember_root(root)
    return {name: report_link(p, root) for name, p in paths.items()}
