"""A sync configuration's mappings and scoping filters as Graph's synchronizationSchema, both ways.

Microsoft's provisioning service keeps a job's attribute mappings and scoping filters in the job's
synchronizationSchema (synchronization-synchronizationschema-get): one synchronizationRule per
object type (synchronization-synchronizationrule), whose objectMapping
(synchronization-objectmapping) holds attributeMappings (synchronization-attributemapping,
synchronization-attributemappingsource) and a scope filter (synchronization-filter,
synchronization-filterclause, synchronization-filteroperand). Cross-tenant synchronization has one
rule, USER_INBOUND_USER, from "Azure Active Directory" to "Azure Active Directory (target tenant)",
with metadata defaultSourceObjectMappings and supportsProvisionOnDemand
(cross-tenant-synchronization-configure-graph, provision on demand step).

The translation, one Mapping of tenantsync/config.py at a time:
- type direct -> source {type Attribute, name <attribute>, expression "[<attribute>]"};
  constant -> {type Constant, name <value>, expression "\"<value>\""};
  expression -> {type Function, name <outer function>, expression <the text, verbatim>} (the
  expression text is the authority; its parameters are not broken down: emulator decision);
  none -> source null (only defaultValue flows).
- apply always / on_create -> flowType Always / ObjectAddOnly; default -> defaultValue;
  matching + precedence -> matchingPriority (0 = not a matching attribute).
- scope.filters (an OR of AND groups) -> scope.groups, one filterGroup per AND group, each clause
  {sourceOperandName, operatorName, targetOperand {values}}; operator names are written as the
  documented scoping-filter operators (define-conditional-rules-for-provisioning-user-accounts).

Pure: no I/O, no Graph; the emulator and the entra provisioner both use it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .config import UNARY_OPERATORS, FilterClause, Mapping, SyncConfig, load_default_mappings

TEMPLATE_ID = "Azure2Azure"
RULE_NAME = "USER_INBOUND_USER"
# Rule ids are GUIDs the template assigns; the pages show only "<RuleId>". Emulator decision: one
# fixed GUID for the Azure2Azure user rule, the same in every job.
RULE_ID = "6c4f8ef8-2d0a-4e4b-9f7c-3b3f2a7d1c01"
SOURCE_DIRECTORY = "Azure Active Directory"
TARGET_DIRECTORY = "Azure Active Directory (target tenant)"
OBJECT_MAPPING_NAME = "Provision Azure Active Directory Users"
FLOW_TYPES = {"always": "Always", "on_create": "ObjectAddOnly"}
_APPLY = {v: k for k, v in FLOW_TYPES.items()}
_FUNCTION_NAME = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s*\(")
_INTEGER_OPERATORS = ("Greater_Than", "Greater_Than_OR_EQUALS")


def default_schema() -> dict[str, Any]:
    """The synchronizationSchema of a new Azure2Azure job: the documented default CTS mappings
    (data/default_mappings.yaml) and no scoping filter."""
    return _schema(load_default_mappings(), [])


def schema_from_config(cfg: SyncConfig) -> dict[str, Any]:
    """The synchronizationSchema that runs ``cfg``'s effective mappings and scoping filters."""
    return _schema(list(cfg.effective_mappings), cfg.scope.filters)


def config_parts_from_schema(schema: dict[str, Any]) -> tuple[list[Mapping], list[list[FilterClause]]]:
    """The mappings and scoping filters (OR of AND groups) of a schema's user rule. Raises
    ValueError when the schema has no user rule or holds a mapping or clause tenantsync cannot run."""
    om = user_object_mapping(schema)
    mappings = [mapping_from_json(m) for m in om.get("attributeMappings") or []]
    scope = om.get("scope") or {}
    filters = [[clause_from_json(c) for c in g.get("clauses") or []] for g in scope.get("groups") or []]
    return mappings, [g for g in filters if g]


def user_rule(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema's USER_INBOUND_USER rule (by name, else the first rule)."""
    rules = schema.get("synchronizationRules") or []
    for rule in rules:
        if rule.get("name") == RULE_NAME:
            return rule
    if rules:
        return rules[0]
    raise ValueError("the synchronization schema has no synchronizationRules")


def user_object_mapping(schema: dict[str, Any]) -> dict[str, Any]:
    """The objectMapping of the user rule whose source object is User."""
    for om in user_rule(schema).get("objectMappings") or []:
        if (om.get("sourceObjectName") or "").lower() == "user":
            return om
    raise ValueError(f"the rule {RULE_NAME} has no objectMapping for User")


def mapping_to_json(m: Mapping) -> dict[str, Any]:
    """One attributeMapping (synchronization-attributemapping)."""
    return {"defaultValue": m.default, "exportMissingReferences": False,
            "flowBehavior": "FlowWhenChanged", "flowType": FLOW_TYPES[m.apply],
            "matchingPriority": (m.precedence or 1) if m.matching else 0,
            "source": _source_json(m), "targetAttributeName": m.target}


def mapping_from_json(am: dict[str, Any]) -> Mapping:
    target = am.get("targetAttributeName")
    if not target:
        raise ValueError("an attributeMapping has no targetAttributeName")
    flow = am.get("flowType") or "Always"
    if flow not in _APPLY:
        raise ValueError(f"attributeMapping {target}: flowType {flow} is not supported "
                         f"(supported: {', '.join(_APPLY)})")
    priority = int(am.get("matchingPriority") or 0)
    common: dict[str, Any] = {"target": target, "apply": _APPLY[flow], "default": am.get("defaultValue"),
                              "matching": priority > 0, "precedence": priority or None}
    src = am.get("source")
    if not src:
        return Mapping(type="none", **common)
    kind = src.get("type") or "Attribute"
    if kind == "Attribute":
        return Mapping(type="direct", source=src.get("name") or _strip_brackets(src.get("expression")), **common)
    if kind == "Constant":
        return Mapping(type="constant", value=src.get("name") or "", **common)
    if kind == "Function":
        return Mapping(type="expression", expression=src.get("expression") or "", **common)
    raise ValueError(f"attributeMapping {target}: source type {kind} is not supported")


def clause_to_json(c: FilterClause) -> dict[str, Any]:
    """One filterClause (synchronization-filterclause); a unary operator has no values."""
    values = [] if c.operator in UNARY_OPERATORS else [str(c.value)]
    return {"operatorName": c.operator, "sourceOperandName": c.attribute, "targetOperand": {"values": values}}


def clause_from_json(fc: dict[str, Any]) -> FilterClause:
    op = fc.get("operatorName")
    values = (fc.get("targetOperand") or {}).get("values") or []
    value: str | int | None = None
    if op not in UNARY_OPERATORS:
        if len(values) != 1:
            raise ValueError(f"filterClause {fc.get('sourceOperandName')} {op}: one value expected, "
                             f"got {len(values)}")
        value = values[0]
        if op in _INTEGER_OPERATORS and re.fullmatch(r"-?\d+", str(value)):
            value = int(str(value))
    return FilterClause.model_validate({"attribute": fc.get("sourceOperandName"), "operator": op,
                                        "value": value})


def _schema(mappings: list[Mapping], filters: list[list[FilterClause]]) -> dict[str, Any]:
    groups = [{"name": f"Scoping filter {i}", "clauses": [clause_to_json(c) for c in group]}
              for i, group in enumerate(filters, 1)]
    object_mapping = {
        "attributeMappings": [mapping_to_json(m) for m in mappings],
        "enabled": True, "flowTypes": "Add, Update, Delete", "metadata": [],
        "name": OBJECT_MAPPING_NAME,
        "scope": {"categoryFilterGroups": [], "groups": groups, "inputFilterGroups": []},
        "sourceObjectName": "User", "targetObjectName": "User"}
    rule = {"editable": True, "id": RULE_ID,
            # Keys as the CTS Graph guide lists them; their values are not documented (emulator decision).
            "metadata": [{"key": "defaultSourceObjectMappings", "value": f'["{OBJECT_MAPPING_NAME}"]'},
                         {"key": "supportsProvisionOnDemand", "value": "true"}],
            "name": RULE_NAME, "objectMappings": [object_mapping], "priority": 1,
            "sourceDirectoryName": SOURCE_DIRECTORY, "targetDirectoryName": TARGET_DIRECTORY}
    source_attrs = sorted({m.source for m in mappings if m.type == "direct" and m.source}
                          | {c.attribute for g in filters for c in g})
    return {"directories": [_directory(SOURCE_DIRECTORY, source_attrs),
                            _directory(TARGET_DIRECTORY, [m.target for m in mappings])],
            "synchronizationRules": [rule], "version": "v1.2"}


def copy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(schema)


def _directory(name: str, attributes: list[str]) -> dict[str, Any]:
    return {"name": name, "objects": [{"name": "User", "attributes": [
        {"name": a, "type": "String"} for a in dict.fromkeys(attributes)]}]}


def _source_json(m: Mapping) -> dict[str, Any] | None:
    if m.type == "direct":
        return {"expression": f"[{m.source}]", "name": m.source, "parameters": [], "type": "Attribute"}
    if m.type == "constant":
        text = (m.value or "").replace("\\", "\\\\").replace('"', '\\"')
        return {"expression": f'"{text}"', "name": m.value, "parameters": [], "type": "Constant"}
    if m.type == "expression":
        text = m.expression or ""
        found = _FUNCTION_NAME.match(text)
        return {"expression": text, "name": found.group(1) if found else text, "parameters": [],
                "type": "Function"}
    return None


def _strip_brackets(expression: str | None) -> str:
    return (expression or "").strip().removeprefix("[").removesuffix("]")
