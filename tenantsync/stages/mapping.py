"""Attribute mappings (docs/entra-behaviour.md#attribute-mappings): compiled once per run, applied per user."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingT
from dataclasses import dataclass
from typing import Any

from ..config import MATCHING_TARGET, Mapping
from ..expressions import IGNORE, compile_expression

# Targets the engine handles itself rather than writing them through Graph:
# the matching attribute (our durable anchor plays its role), the soft-delete flag
# (it drives the delete action) and reference attributes (resolved separately).
ENGINE_TARGETS = frozenset({MATCHING_TARGET, "IsSoftDeleted", "manager"})
ALWAYS_SELECTED = ("id", "userPrincipalName", "mail", "displayName", "userType", "accountEnabled",
                   "externalUserState", "givenName", "surname", "mailNickname")


@dataclass(frozen=True, slots=True)
class Desired:
    values: dict[str, Any]          # attribute -> value to write (create) or to compare (update)
    fill_if_empty: dict[str, Any]   # 'none' mappings: written only where the target is empty
    redacted: frozenset[str]        # attributes whose values are logged as [Redact]


class MappingPlan:
    """The effective mappings of one configuration, compiled to small callables."""

    def __init__(self, mappings: Iterable[Mapping], *, upn_transform: Callable[[str], str] | None = None):
        self.mappings = tuple(m for m in mappings if m.target not in ENGINE_TARGETS)
        self._upn_transform = upn_transform
        self._rules: list[tuple[Mapping, Callable[[MappingT[str, Any]], Any], bool]] = []
        attrs: set[str] = set(ALWAYS_SELECTED)
        for m in self.mappings:
            fn, redacts = self._compile(m)
            self._rules.append((m, fn, redacts))
            if m.type == "direct" and m.source:
                attrs.add(m.source)
            elif m.type == "expression":
                attrs |= compile_expression(m.expression or "").attributes - {"netId"}
        self.source_attributes = tuple(sorted(attrs))
        self.redacted = frozenset(m.target for m, _, redacts in self._rules if redacts)  # logged as [Redact]
        self.targets = tuple(m.target for m in self.mappings)

    @staticmethod
    def _compile(m: Mapping) -> tuple[Callable[[MappingT[str, Any]], Any], bool]:
        if m.type == "direct":
            src = m.source or ""
            return (lambda u: u.get(src)), False
        if m.type == "constant":
            const = m.value
            return (lambda u: const), False
        if m.type == "expression":
            compiled = compile_expression(m.expression or "")
            return compiled.evaluate, bool(getattr(compiled, "redacts", False))
        return (lambda u: None), False

    def map_user(self, user: MappingT[str, Any], *, creating: bool) -> Desired:
        """Target attribute values for one source user; IgnoreFlowIfNullOrEmpty drops the key."""
        view = _with_net_id(user)
        values: dict[str, Any] = {}
        fill: dict[str, Any] = {}
        redacted: set[str] = set()
        for m, fn, redacts in self._rules:
            if m.apply == "on_create" and not creating:
                continue
            if m.type == "none":
                if m.default is not None:
                    fill[m.target] = m.default
                continue
            value = fn(view)
            if value is IGNORE:
                continue
            if (value is None or value == "") and m.default is not None and creating:
                value = m.default          # "default value if null": only on create
            if m.target == "userPrincipalName" and value and self._upn_transform:
                value = self._upn_transform(str(value))
            values[m.target] = _graph_value(m.target, value)
            if redacts:
                redacted.add(m.target)
        return Desired(values, fill, frozenset(redacted))


class _NetIdView(dict):  # type: ignore[type-arg]
    """The user dict plus CTS's netId (the source object id), without copying per user."""

    __slots__ = ("_user",)

    def __init__(self, user: MappingT[str, Any]):
        super().__init__()
        self._user = user

    def get(self, key: str, default: Any = None) -> Any:
        if key == "netId":
            return self._user.get("id")
        return self._user.get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key == "netId":
            return self._user["id"]
        return self._user[key]

    def __contains__(self, key: object) -> bool:
        return key == "netId" or key in self._user


def _with_net_id(user: MappingT[str, Any]) -> MappingT[str, Any]:
    return _NetIdView(user)


_BOOLEAN_TARGETS = frozenset({"accountEnabled", "showInAddressList"})


def _graph_value(target: str, value: Any) -> Any:
    """Constants arrive as strings ("true"); Graph wants booleans for boolean properties."""
    if target in _BOOLEAN_TARGETS and isinstance(value, str):
        return value.strip().lower() == "true"
    return value


def b2b_upn(source_upn: str, target_domain: str) -> str:
    """The B2B form of a UPN: alias@theirdomain -> alias_theirdomain#EXT#@<target initial domain>."""
    if "#EXT#" in source_upn:
        return source_upn
    local, _, domain = source_upn.partition("@")
    return f"{local}_{domain}#EXT#@{target_domain}"
