"""Report links that open (docs/contracts.md#report-links): the folder `make ui` serves over HTTP,
the remote store of TENANTSYNC_REPORTS_STORE, and a file:// link that says how to open it."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import fsspec
import httpx
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from tenantsync import report_links
from tenantsync.report_links import ReportStore, report_link

SECRET = "sv=2024&sig=TopSecretSignature42"


@pytest.fixture(autouse=True)
def no_link_settings(monkeypatch):
    for name in (report_links.STORE_ENV, report_links.URL_ENV, report_links.DIR_ENV,
                 "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    (root / "emea-to-hq").mkdir(parents=True)
    (root / "emea-to-hq" / "cycles.csv").write_text("cycleId,kind\nc-1,initial\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("not a report", encoding="utf-8")
    (root / "emea-to-hq" / "leak.txt").symlink_to(tmp_path / "outside.txt")
    return root


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw_get(port: int, path: str) -> tuple[int, bytes]:
    """GET with the path sent as it is (httpx would normalise `..` away)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_make_ui_serves_the_reports_folder_read_only(folder, tmp_path):
    from flows import ui

    children, port = ui.Children(), _port()
    env = {**ui.environment(4200, 8765), "PREFECT_HOME": str(tmp_path / "home")}
    try:
        url = ui.serve_reports(children, env, folder, port)
        assert url == f"http://127.0.0.1:{port}"
        assert env[report_links.URL_ENV] == url and env[report_links.DIR_ENV] == str(folder)   # for the worker

        answer = httpx.get(f"{url}/emea-to-hq/cycles.csv", timeout=10)
        assert answer.status_code == 200
        assert answer.text == "cycleId,kind\nc-1,initial\n"
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "script" not in answer.headers["content-security-policy"]

        for path in ("/../outside.txt", "/emea-to-hq/../../outside.txt", "/%2e%2e/outside.txt",
                     "/emea-to-hq/leak.txt"):
            status, body = _raw_get(port, path)
            assert status == 404, path
            assert b"not a report" not in body
        assert httpx.get(f"{url}/", timeout=10).status_code == 404          # no listing
        assert httpx.post(f"{url}/emea-to-hq/cycles.csv", timeout=10).status_code == 405
    finally:
        children.stop()


def test_a_file_under_the_served_folder_links_to_it(folder, monkeypatch):
    monkeypatch.setenv(report_links.URL_ENV, "http://127.0.0.1:4201")
    monkeypatch.setenv(report_links.DIR_ENV, str(folder))

    link = report_link(folder / "emea-to-hq" / "cycles.csv")
    assert (link.url, link.where, link.note) == ("http://127.0.0.1:4201/emea-to-hq/cycles.csv", "served", "")

    elsewhere = report_link(folder.parent / "outside.txt")
    assert elsewhere.url.startswith("file://") and "outside the served folder" in elsewhere.note


def test_without_a_served_folder_the_file_link_says_how_to_open_it(folder):
    link = report_link(folder / "emea-to-hq" / "cycles.csv")
    assert link.where == "file" and link.url == (folder / "emea-to-hq" / "cycles.csv").as_uri()
    assert "make ui" in link.note and report_links.STORE_ENV in link.note


def test_the_memory_store_receives_the_files_and_the_link_names_the_object(folder, monkeypatch):
    monkeypatch.setenv(report_links.STORE_ENV, f"memory://h8-reports/tenantsync?{SECRET}")
    links = report_links.publish({"cycles": str(folder / "emea-to-hq" / "cycles.csv")}, folder)

    assert links["cycles"].url == "memory://h8-reports/tenantsync/emea-to-hq/cycles.csv"
    assert links["cycles"].where == "store" and not links["cycles"].note
    stored = fsspec.filesystem("memory").cat_file("/h8-reports/tenantsync/emea-to-hq/cycles.csv")
    assert stored == b"cycleId,kind\nc-1,initial\n"
    assert SECRET not in repr(report_links.configured_store())


def test_a_file_store_copies_into_its_folder(folder, tmp_path, monkeypatch):
    share = tmp_path / "share"
    monkeypatch.setenv(report_links.STORE_ENV, share.as_uri())
    link = report_link(folder / "emea-to-hq" / "cycles.csv", folder)
    assert link.url == (share / "emea-to-hq" / "cycles.csv").as_uri()
    assert (share / "emea-to-hq" / "cycles.csv").read_text(encoding="utf-8").startswith("cycleId,kind")


@pytest.mark.parametrize(("url", "env", "link"), [
    ("az://reports/tenantsync?account_name=contosoaudit&sas_token=" + SECRET, {},
     "https://contosoaudit.blob.core.windows.net/reports/tenantsync/emea-to-hq/cycles.csv"),
    ("az://reports", {"AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=acct2;"
                                                         "AccountKey=" + SECRET},
     "https://acct2.blob.core.windows.net/reports/emea-to-hq/cycles.csv"),
    ("abfs://reports@acct3.dfs.core.windows.net/x", {},
     "https://acct3.blob.core.windows.net/reports/x/emea-to-hq/cycles.csv"),
    ("az://reports/x", {}, "az://reports/x/emea-to-hq/cycles.csv"),       # no account known: the fsspec URL
    ("gs://bucket/p", {}, "https://storage.googleapis.com/bucket/p/emea-to-hq/cycles.csv"),
    ("s3://bucket/p?key=AKIA&secret=" + SECRET, {}, "https://bucket.s3.amazonaws.com/p/emea-to-hq/cycles.csv"),
    ("s3://bucket?endpoint_url=http://minio:9000", {}, "http://minio:9000/bucket/emea-to-hq/cycles.csv"),
])
def test_the_link_of_an_object_in_a_cloud_store(url, env, link, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = ReportStore.parse(url)
    assert store.object_url("emea-to-hq/cycles.csv") == link
    assert SECRET not in store.shown and SECRET not in repr(store)


class _RefusingFS(MemoryFileSystem):
    """A store that refuses every upload, quoting its options (as some client libraries do)."""

    protocol = "h8refusing"

    def put_file(self, lpath, rpath, **kwargs):
        raise PermissionError(f"AuthorizationFailure for {rpath} with {self.storage_options}")


def test_a_secret_in_the_store_url_never_shows(folder, monkeypatch):
    fsspec.register_implementation("h8refusing", _RefusingFS, clobber=True)
    monkeypatch.setenv(report_links.STORE_ENV, f"h8refusing://u:pa55word@bucket/p?{SECRET}")
    link = report_link(folder / "emea-to-hq" / "cycles.csv", folder)

    assert link.where == "file" and "Upload failed" in link.note and "AuthorizationFailure" in link.error
    assert "h8refusing://bucket/p" in link.error
    for text in (link.url, link.note, link.error):
        assert "TopSecretSignature42" not in text and "pa55word" not in text


def test_adlfs_missing_says_which_extra_to_install(folder, monkeypatch):
    pytest.importorskip("fsspec")
    try:
        import adlfs  # noqa: F401
        pytest.skip("adlfs is installed")
    except ImportError:
        pass
    monkeypatch.setenv(report_links.STORE_ENV, f"az://reports?account_name=a&sas_token={SECRET}")
    link = report_link(folder / "emea-to-hq" / "cycles.csv", folder)
    assert link.where == "file" and "tenantsync[azure]" in link.note and SECRET not in link.note


def test_an_export_inside_the_served_folder_is_stored_once_under_its_own_root(tmp_path, monkeypatch):
    served = tmp_path / "reports"
    demo = served / "demo-1" / "emea-to-hq"
    demo.mkdir(parents=True)
    (demo / "cycles.csv").write_text("cycleId\n", encoding="utf-8")
    monkeypatch.setenv(report_links.DIR_ENV, str(served))
    monkeypatch.setenv(report_links.STORE_ENV, f"memory://h8-{tmp_path.name}")

    exported = report_links.publish({"cycles": str(demo / "cycles.csv")}, served / "demo-1")
    linked = report_link(demo / "cycles.csv")             # a later link, e.g. from the flow's artifact
    assert exported["cycles"].url == linked.url == f"memory://h8-{tmp_path.name}/emea-to-hq/cycles.csv"
    assert fsspec.filesystem("memory").ls(f"/h8-{tmp_path.name}", detail=False) == [f"/h8-{tmp_path.name}/emea-to-hq"]
