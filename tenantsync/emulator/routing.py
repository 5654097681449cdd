"""Path templates to handlers. Graph paths are case-insensitive; `{name}` captures one segment,
or part of one in an alternate-key segment such as `applications(appId='{app_id}')`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tenantsync.emulator.protocol import GraphRequest, GraphResponse

Handler = Callable[..., GraphResponse]


@dataclass
class Route:
    """One operation: method, its template (also its name in stats) and the handler."""

    method: str
    template: str
    handler: Handler
    aliases: tuple[str, ...] = ()             # other spellings, e.g. '/users/delta()'
    regexes: list[re.Pattern] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for template in (self.template, *self.aliases):
            parts = []
            for segment in template.strip("/").split("/"):
                if segment.startswith("{") and segment.endswith("}"):
                    parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
                else:                          # literal, or a key inside: (appId='{app_id}')
                    pieces = re.split(r"\{(\w+)\}", segment)
                    parts.append("".join(re.escape(piece) if i % 2 == 0
                                         else f"(?P<{piece}>[^/']+)"
                                         for i, piece in enumerate(pieces)))
            self.regexes.append(re.compile("^/" + "/".join(parts) + "/?$", re.IGNORECASE))


def _head(path: str) -> str:
    """First segment without its key, lower case: `applications(appId='x')` -> `applications`."""
    return path.strip("/").split("/", 1)[0].split("(", 1)[0].lower()


class Router:
    """Finds the route of (method, path); routes are tried in the order given."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._by_head: dict[str, list[Route]] = {}
        for route in routes:
            heads = {_head(a) for a in (route.template, *route.aliases)}
            for head in heads:
                self._by_head.setdefault(head, []).append(route)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known); path_known is True when only the method was wrong."""
        head = _head(path)
        path_known = False
        for route in self._by_head.get(head, ()):
            for regex in route.regexes:
                m = regex.match(path)
                if m:
                    if route.method == method:
                        return route, m.groupdict(), True
                    path_known = True
                    break
        return None, {}, path_known


def call(route: Route, req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    """Run the handler of `route`."""
    return route.handler(req, **params)
