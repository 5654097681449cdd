"""Collection responses: $select, $filter, $top, $count, $orderby and $skiptoken paging.

Paging is a cursor, not an offset: the skiptoken holds the order key of the last object served,
so creates and deletes between pages neither skip nor repeat objects. The nextLink keeps the
request's other query options, as Graph's does.

As on Graph's directory objects: $count=true needs `ConsistencyLevel: eventual` (else 400);
`ne`, `not`, `endswith` and $orderby with $filter are "advanced queries" that need both the header
and $count=true (else 400 Request_UnsupportedQuery); later pages (with $skiptoken) need neither.
$top is 1..999 (default 100). $search/$skip are refused rather than ignored, and $expand too
unless the caller expands something (`expand`, e.g. manager.py's $expand=manager on /users).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from tenantsync.emulator.odata import ODataError, parse_filter, parse_orderby, parse_select, parse_top
from tenantsync.emulator.protocol import GraphRequest, GraphResponse, bad_request, decode_token, encode_token
from tenantsync.emulator.schema import PropertyNames

Projector = Callable[[dict, "list[str] | None"], dict]


def advanced_query(req: GraphRequest) -> bool:
    """True when the request is an 'advanced query' (ConsistencyLevel: eventual + $count)."""
    return (req.headers.get("consistencylevel", "").lower() == "eventual"
            and req.query.get("$count", "").lower() == "true")


def check_count(req: GraphRequest) -> bool:
    """Whether @odata.count is asked for; Graph refuses $count without ConsistencyLevel."""
    if req.query.get("$count", "").lower() != "true":
        return False
    if req.headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request("$count is not currently supported without the "
                          "'ConsistencyLevel: eventual' header.")
    return True


def reject_unsupported(query: dict[str, str]) -> None:
    """400 for $expand/$search/$skip: Graph refuses $skip on directory objects, and the others
    are not emulated, so say so instead of silently answering something else."""
    for option in ("$expand", "$search", "$skip"):
        if option in query:
            raise ODataError(f"The query option '{option}' is not supported here (tenantsync "
                             "emulator: no $expand, $search or $skip).",
                             "Request_UnsupportedQuery")


def context_name(base: str, select: list[str] | None) -> str:
    """`users` or `users(displayName,id)`: the @odata.context fragment of a collection."""
    return f"{base}({','.join(select)})" if select else base


def respond_list(req: GraphRequest, *, props: PropertyNames, ids: list[str],
                 keys: list[int] | None, get: Callable[[str], dict | None],
                 project: Projector, context: str, default_top: int = 100,
                 lookup: Callable[[str, object], set[str] | None] | None = None,
                 key_of: Callable[[str], int] | None = None,
                 index_after: Callable[[int], int] | None = None,
                 expand: Callable[[dict, dict], dict] | None = None) -> GraphResponse:
    """One page of a collection.

    ids/keys: the collection in order with ascending order keys (keys=None: offsets are the keys).
    get: id -> object (None when gone). lookup/key_of: index planner for $filter (optional).
    expand: (object, projection) -> projection with the expanded navigation property.
    """
    q = req.query
    tenant = req.home_tenant
    reject_unsupported({k: v for k, v in q.items() if k != "$expand"} if expand else q)
    select = parse_select(q.get("$select"), props)
    flt = parse_filter(q["$filter"], props) if q.get("$filter") else None
    top = parse_top(q.get("$top"), default_top)
    orderby = parse_orderby(q.get("$orderby"), props)
    skiptoken = q.get("$skiptoken")
    want_count = False
    cursor = 0
    if skiptoken is None:
        want_count = check_count(req)
        if (flt is not None and flt.needs_advanced or orderby and flt is not None) \
                and not advanced_query(req):
            prop = sorted(flt.properties)[0] if flt.properties else "id"
            raise ODataError(f"Unsupported or invalid query filter clause specified for property "
                             f"'{prop}' of resource '{props.type_name.rsplit('.', 1)[-1].title()}'."
                             " Use ConsistencyLevel: eventual with $count=true for this query.",
                             "Request_UnsupportedQuery")
    else:
        token = decode_token(skiptoken)
        if token.get("g") != req.emu.directory.generation or token.get("t") != tenant.id:
            raise bad_request("The specified page token value has expired and can no longer be "
                              "included in your request.", "Directory_ExpiredPageToken")
        cursor = int(token.get("c", 0))
    pred = flt.predicate if flt else None

    page: list[dict] = []
    next_cursor: int | None = None
    total: int | None = None
    if orderby:
        objs = [o for o in (get(i) for i in ids) if o is not None and (pred is None or pred(o))]
        for name, desc in reversed(orderby):
            objs.sort(key=_by(name), reverse=desc)
        page = objs[cursor:cursor + top]
        if len(objs) > cursor + top:
            next_cursor = cursor + top
        total = len(objs)
    else:
        candidates = flt.candidates(lookup) if flt is not None and lookup is not None else None
        if candidates is not None and key_of is not None:
            ordered = sorted((key_of(i), i) for i in candidates if get(i) is not None)
            ids = [i for _, i in ordered]
            keys = [k for k, _ in ordered]
            start = _start(keys, cursor)
        elif keys is not None:
            start = index_after(cursor) if index_after else _start(keys, cursor)
        else:
            start = cursor
        n = len(ids)
        if pred is None:
            chunk = ids[start:start + top]
            page = [o for o in map(get, chunk) if o is not None]
            if start + top < n:
                next_cursor = keys[start + top - 1] if keys is not None else start + top
        else:
            last = cursor
            i = start
            while i < n:
                obj = get(ids[i])
                if obj is not None and pred(obj):
                    if len(page) == top:
                        next_cursor = last
                        break
                    page.append(obj)
                    last = keys[i] if keys is not None else i + 1
                i += 1
        if want_count:
            if pred is None:
                total = len(ids)
            else:
                total = sum(1 for o in map(get, ids) if o is not None and pred(o))
    body: dict = {"@odata.context": req.context(context_name(context, select))}
    if want_count:
        body["@odata.count"] = total
    if next_cursor is not None:
        params = {k: v for k, v in q.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_token({"g": req.emu.directory.generation,
                                             "t": tenant.id, "c": next_cursor})
        body["@odata.nextLink"] = req.link(req.path, params)
    body["value"] = [project(o, select) for o in page] if expand is None else \
        [expand(o, project(o, select)) for o in page]
    return GraphResponse(200, body)


def _start(keys: list[int], cursor: int) -> int:
    return bisect_right(keys, cursor)


def _by(name: str) -> Callable[[dict], tuple]:
    """Sort key of an object by one property ($orderby)."""
    return lambda obj: _sort_key(obj.get(name))


def _sort_key(value: object) -> tuple:
    if value is None:
        return (1, "")
    if isinstance(value, str):
        return (0, value.lower())
    return (0, value)
