"""Requests for collections and delta rounds, built with the SDK's request builders.

The builders give the URL template and path parameters (``/users``, ``/groups/{id}/members``,
``/users/delta()``...); the OData query goes into ``query_parameters`` under the template's names
(``%24select`` ...). A resource with no builder here gets the same template shape over a plain
path. Follow-up pages are ``with_url(nextLink)``: the link already carries the query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

QUERY_TEMPLATE = "{?%24count,%24expand,%24filter,%24select,%24top}"
_MEMBERS = re.compile(r"^groups/([^/]+)/members$")


def _builder(client: Any, resource: str) -> Any | None:
    """The SDK request builder for the collections tenantsync reads in bulk."""
    path = resource.strip("/")
    if path == "users":
        return client.users
    if path == "groups":
        return client.groups
    if path == "users/delta":
        return client.users.delta
    if path == "groups/delta":
        return client.groups.delta
    found = _MEMBERS.match(path)
    if found:
        return client.groups.by_group_id(found.group(1)).members
    return None


def query(select: Sequence[str] | None = None, filter: str | None = None,
          top: int | None = None, count: bool = False, expand: str | None = None
          ) -> dict[str, Any]:
    q: dict[str, Any] = {}
    if select:
        q["%24select"] = list(select)
    if filter:
        q["%24filter"] = filter
    if top:
        q["%24top"] = top
    if count:
        q["%24count"] = True
    if expand:
        q["%24expand"] = expand
    return q


def collection_request(client: Any, resource: str, params: dict[str, Any],
                       headers: dict[str, str] | None = None) -> RequestInformation:
    """GET request for the first page of ``resource`` with OData ``params`` (see ``query``)."""
    builder = _builder(client, resource)
    if builder is not None:
        ri = RequestInformation(Method.GET, builder.url_template, dict(builder.path_parameters))
    else:
        path = quote(resource.strip("/"), safe="/()=',-._~$@:")
        ri = RequestInformation(Method.GET, "{+baseurl}/" + path + QUERY_TEMPLATE, {})
    ri.query_parameters = dict(params)
    ri.headers.try_add("Accept", "application/json")
    for name, value in (headers or {}).items():
        ri.headers.try_add(name, value)
    if params.get("%24count"):
        # Real Graph needs it for $count and advanced filters on directory objects.
        ri.headers.try_add("ConsistencyLevel", "eventual")
    return ri


def link_request(link: str, headers: dict[str, str] | None = None) -> RequestInformation:
    """GET an @odata.nextLink / @odata.deltaLink as is (the SDK's ``with_url``)."""
    ri = RequestInformation(Method.GET)
    ri.url = link
    ri.headers.try_add("Accept", "application/json")
    for name, value in (headers or {}).items():
        ri.headers.try_add(name, value)
    return ri
