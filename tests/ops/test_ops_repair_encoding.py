"""The pending-acceptance repair looks source users up by mail inside $batch item URLs: the
address must arrive as written ("Use query parameters": values percent-encoded), or a '+', '&'
or '#' in it changes the query and the pending user is reported as having no source match."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tenantsync.ops.repair import _by_mail, _read_upns


class RecordingSource:
    """A GraphApi stand-in: answers each $batch item with the users whose mail its $filter names."""

    def __init__(self, users):
        self.users, self.urls = users, []

    def batch(self, requests):
        out = []
        for req in requests:
            self.urls.append(req["url"])
            parts = urlsplit(req["url"])
            assert parts.fragment == ""
            flt = parse_qs(parts.query).get("$filter", [""])[0]
            hits = [u for u in self.users if f"mail eq '{u['mail'].replace(chr(39), chr(39) * 2)}'" in flt]
            out.append({"status": 200, "headers": {}, "body": {"value": hits}})
        return out


def test_each_address_reaches_the_filter_exactly_as_written():
    people = [{"id": "s1", "mail": "o'brien+test@emea.example"}, {"id": "s2", "mail": "r&d@emea.example"},
              {"id": "s3", "mail": "hash#tag@emea.example"}]
    src = RecordingSource(people)
    found = _by_mail(src, [p["mail"] for p in people])
    assert {m: [u["id"] for u in us] for m, us in found.items()} == {
        "o'brien+test@emea.example": ["s1"], "r&d@emea.example": ["s2"], "hash#tag@emea.example": ["s3"]}


def test_target_ids_go_into_the_path_encoded():
    src = RecordingSource([])
    _read_upns(src, ["a_b#EXT#@t.onmicrosoft.com"])
    assert src.urls == ["/users/a_b%23EXT%23@t.onmicrosoft.com?$select=id%2CuserPrincipalName"]
