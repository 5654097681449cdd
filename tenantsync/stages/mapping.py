"""Attribute mappings (docs/entra-behaviour.md#attribute-mappings): compiled once per run into one
function per flavour (create, update), applied per user with one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Mapping as MappingT
from dataclasses import dataclass
from typing import Any

from ..config import MATCHING_TARGET, Mapping
from ..expressions import IGNORE, CompiledExpression, compile_expression

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
    """The effective mappings of one configuration, compiled into one function per flavour
    (create, update): ``map_user`` is then one call per user, with no loop over the rules."""

    def __init__(self, mappings: Iterable[Mapping], *, upn_transform: Callable[[str], str] | None = None):
        self.mappings = tuple(m for m in mappings if m.target not in ENGINE_TARGETS)
        self._upn_transform = upn_transform
        self._rules: list[_Rule] = []
        attrs: set[str] = set(ALWAYS_SELECTED)
        for m in self.mappings:
            rule = _Rule.of(m)
            self._rules.append(rule)
            if m.type == "direct" and m.source:
                attrs.add(m.source)
            elif rule.expression is not None:
                attrs |= rule.expression.attributes - {"netId"}
        self.source_attributes = tuple(sorted(attrs))
        self.redacted = frozenset(r.mapping.target for r in self._rules if r.redacts)  # logged as [Redact]
        self.targets = tuple(m.target for m in self.mappings)
        self._create = _build(self._rules, creating=True, upn_transform=upn_transform)
        self._update = _build(self._rules, creating=False, upn_transform=upn_transform)

    def map_user(self, user: MappingT[str, Any], *, creating: bool) -> Desired:
        """Target attribute values for one source user; IgnoreFlowIfNullOrEmpty drops the key."""
        return (self._create if creating else self._update)(user)


@dataclass(frozen=True, slots=True)
class _Rule:
    mapping: Mapping
    expression: CompiledExpression | None = None

    @classmethod
    def of(cls, m: Mapping) -> _Rule:
        return cls(m, compile_expression(m.expression or "") if m.type == "expression" else None)

    @property
    def redacts(self) -> bool:
        return bool(self.expression is not None and self.expression.redacts)


def _build(rules: Sequence[_Rule], *, creating: bool,
           upn_transform: Callable[[str], str] | None) -> Callable[[MappingT[str, Any]], Desired]:
    """One function doing, for one flavour, what the rules say, rule after rule in their order:
    - skipped: ``apply: on_create`` rules when updating;
    - ``none``: its default goes to fill_if_empty (the same for every user: built here);
    - ``direct``: the source attribute (``netId``: the object id); ``constant``: the value;
      ``expression``: its value, the attribute dropped when it is IGNORE;
    - then, in this order: the default when the value is null or "" (creating only), the B2B form of
      a userPrincipalName, text "true"/"false" as a boolean for boolean targets (_graph_value).
    The code is generated from fixed templates: names and values of the configuration never enter
    it, they are bound as the function's globals (``_t3``, ``_s3``, ...)."""
    ns: dict[str, Any] = {"_Desired": Desired, "_IGNORE": IGNORE, "_View": _NetIdView, "_upn": upn_transform,
                          "_NO_REDACTION": frozenset()}
    fill: dict[str, Any] = {}
    body: list[str] = []
    view = redacting = False
    for i, rule in enumerate(rules):
        m, t = rule.mapping, f"_t{i}"
        if m.apply == "on_create" and not creating:
            continue
        if m.type == "none":
            if m.default is not None:
                fill[m.target] = m.default
            continue
        ns[t] = m.target
        default = m.default is not None and creating
        upn = m.target == "userPrincipalName" and upn_transform is not None
        if m.type == "constant" or m.type not in ("direct", "expression"):
            value = m.value if m.type == "constant" else None     # a type without a value: null
            if default and (value is None or value == ""):
                value = m.default
            if not upn:                 # known now: stored as it will be sent
                ns[f"_c{i}"] = _graph_value(m.target, value)
                body.append(f"values[{t}] = _c{i}")
                continue
            ns[f"_c{i}"] = value
            body.append(f"v = _c{i}")
            indent = ""
        elif m.type == "direct":
            ns[f"_s{i}"] = "id" if m.source == "netId" else (m.source or "")   # _NetIdView.get
            if not (default or upn or m.target in _BOOLEAN_TARGETS):
                body.append(f"values[{t}] = get(_s{i})")
                continue
            body.append(f"v = get(_s{i})")
            indent = ""
        else:
            assert rule.expression is not None
            needs_view = "netId" in rule.expression.attributes
            view |= needs_view
            ns[f"_f{i}"] = rule.expression.evaluate
            body += [f"v = _f{i}({'view' if needs_view else 'user'})", "if v is not _IGNORE:"]
            indent = "    "
        if default:
            ns[f"_d{i}"] = m.default
            body += [f"{indent}if v is None or v == '':", f"{indent}    v = _d{i}"]
        if upn:
            body += [f"{indent}if v:", f"{indent}    v = _upn(str(v))"]
        if m.target in _BOOLEAN_TARGETS:
            body += [f"{indent}if isinstance(v, str):", f"{indent}    v = v.strip().lower() == 'true'"]
        body.append(f"{indent}values[{t}] = v")
        if rule.redacts:
            redacting = True
            body.append(f"{indent}redacted.add({t})")
    ns["_fill"] = fill
    head = ["get = user.get", "values = {}"] + (["view = _View(user)"] if view else []) \
        + (["redacted = set()"] if redacting else [])
    tail = f"return _Desired(values, dict(_fill), {'frozenset(redacted)' if redacting else '_NO_REDACTION'})"
    source = "def mapped(user):\n" + "".join(f"    {line}\n" for line in [*head, *body, tail])
    exec(compile(source, f"<mappings {'create' if creating else 'update'}>", "exec"), ns)
    fn: Callable[[MappingT[str, Any]], Desired] = ns["mapped"]
    fn.__doc__ = source                 # what runs, for a debugger or a curious reader
    return fn


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
