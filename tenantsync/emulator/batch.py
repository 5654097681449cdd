"""POST /$batch (Graph pages json-batching and throttling; docs/entra-behaviour.md#json-batching).

At most 20 requests, unique ids, relative urls, Content-Type required with a body, dependsOn
honoured: an item whose dependency failed (any status >= 400, a throttled 429 included) answers
424 Failed Dependency without running (json-batching). Each item goes through the whole pipeline
(auth with the batch's token, faults, throttling) on its own: a throttled item answers 429 with
its own Retry-After while the batch itself is 200 (throttling, "Throttling and batching": "The
batch itself succeeds with a status code of 200 (OK)"; an older version of that page said 424).
The batch as a whole answers 429 only when the $batch request itself is throttled: under the
`graph` profile, when the app exceeds its global request rate (throttle.py), or by fault
injection. Responses come back in a shuffled (seeded, reproducible) order: Graph promises no
order, and clients that assume one should fail here rather than in production.
"""

from __future__ import annotations

import random
import re
from urllib.parse import unquote, urlsplit

from tenantsync.emulator.protocol import (
    JSON_CONTENT_TYPE,
    GraphHttpError,
    GraphRequest,
    GraphResponse,
    error_response,
    parse_query,
    read_json_body,
)

MAX_REQUESTS = 20
_METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


def _invalid(message: str) -> GraphHttpError:
    return GraphHttpError(400, "BadRequest", f"Invalid batch payload format: {message}")


def _validate(body: dict) -> list[dict]:
    items = body.get("requests")
    if not isinstance(items, list) or not items:
        raise _invalid("'requests' must be a non-empty array.")
    if len(items) > MAX_REQUESTS:
        raise _invalid(f"the number of requests ({len(items)}) exceeds the limit of "
                       f"{MAX_REQUESTS}.")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise _invalid("each request must be an object.")
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise _invalid("each request needs a string 'id'.")
        if item_id in seen:
            raise _invalid(f"request id '{item_id}' is not unique.")
        seen.add(item_id)
        method = item.get("method")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise _invalid(f"request '{item_id}' has an invalid method '{method}'.")
        url = item.get("url")
        if not isinstance(url, str) or not url:
            raise _invalid(f"request '{item_id}' needs a 'url'.")
        if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
            raise _invalid(f"request '{item_id}': the url must be relative "
                           "(e.g. '/users/{id}').")
        depends = item.get("dependsOn") or []
        headers = item.get("headers")
        if headers is not None and not isinstance(headers, dict):
            raise _invalid(f"request '{item_id}': headers must be an object.")
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _invalid(f"request '{item_id}': dependsOn must be an array of ids.")
    ids = {item["id"] for item in items}
    for item in items:
        for dep in item.get("dependsOn") or []:
            if dep not in ids or dep == item["id"]:
                raise _invalid(f"request '{item['id']}' depends on unknown request '{dep}'.")
    return items


def _execution_order(items: list[dict]) -> list[dict]:
    """Dependencies first, otherwise the order given (a cycle is a 400)."""
    by_id = {item["id"]: item for item in items}
    done: set[str] = set()
    order: list[dict] = []
    visiting: set[str] = set()

    def visit(item: dict) -> None:
        if item["id"] in done:
            return
        if item["id"] in visiting:
            raise _invalid(f"dependsOn forms a cycle at request '{item['id']}'.")
        visiting.add(item["id"])
        for dep in item.get("dependsOn") or []:
            visit(by_id[dep])
        visiting.discard(item["id"])
        done.add(item["id"])
        order.append(item)

    for item in items:
        visit(item)
    return order


def _sub_request(req: GraphRequest, item: dict) -> GraphRequest:
    parts = urlsplit(item["url"])
    path = "/" + re.sub(r"/{2,}", "/", unquote(parts.path)).lstrip("/")
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    if "authorization" not in headers and "authorization" in req.headers:
        headers["authorization"] = req.headers["authorization"]
    query, refusal = parse_query(parts.query)
    return GraphRequest(method=item["method"].upper(), path=path, query=query, refusal=refusal,
                        headers=headers, body=item.get("body"), base=req.base, is_item=True)


def _entry(item_id: str, resp: GraphResponse) -> dict:
    entry: dict = {"id": item_id, "status": resp.status, "headers": resp.headers}
    if resp.body is not None:
        entry["body"] = resp.body
    return entry


def _local_error(item_id: str, sub: GraphRequest, status: int, code: str, message: str) -> dict:
    """An item answered by the batch layer itself (not run)."""
    resp = error_response(sub, status, code, message)
    resp.headers.update({"request-id": sub.request_id,
                         "client-request-id": sub.headers.get("client-request-id",
                                                              sub.request_id),
                         "Content-Type": JSON_CONTENT_TYPE})
    return _entry(item_id, resp)


def handle_batch(req: GraphRequest) -> GraphResponse:
    """POST /$batch."""
    if req.is_item:
        raise GraphHttpError(400, "BadRequest", "Nested $batch requests are not supported.")
    items = _execution_order(_validate(read_json_body(req)))
    emulator = req.emu
    results: dict[str, dict] = {}
    for item in items:
        sub = _sub_request(req, item)
        failed = [d for d in item.get("dependsOn") or [] if results[d]["status"] >= 400]
        no_type = sub.body is not None and "content-type" not in sub.headers
        if failed or no_type:
            route, _, _ = emulator.router.match(sub.method, sub.path)
            emulator.stats.record(sub.method, route.template if route else "<unmatched>",
                                  424 if failed else 400, item=True, write=False)
        if failed:
            results[item["id"]] = _local_error(
                item["id"], sub, 424, "FailedDependency",
                f"The request failed because request '{failed[0]}' it depends on failed.")
            continue
        if no_type:
            results[item["id"]] = _local_error(
                item["id"], sub, 400, "BadRequest",
                "A Content-Type header is required for a request with a body.")
            continue
        results[item["id"]] = _entry(item["id"], emulator.handle(sub))
    responses = list(results.values())
    emulator.batch_count += 1
    random.Random(emulator.batch_count).shuffle(responses)
    return GraphResponse(200, {"responses": responses})
