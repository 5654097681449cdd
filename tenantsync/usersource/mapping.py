"""The mapping stage of a user source: Graph user and group JSON -> directory records.

``UserSource`` compiles the configuration's mappings once per run (``MappingPlan``, the same
mapping engine as the cross-tenant sync) and turns each user read from /users/delta into a
``UserRecord`` (directory columns, custom attributes, the Managed Apple ID). The fingerprints say
what each delta link tracks: a link saved under other mappings (or another $select) is not used
again, and that round reads the whole tenant.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..connectors.directory_target import UserRecord
from ..stages.mapping import MappingPlan
from .appleid import managed_apple_id
from .config import ALWAYS_PRESENT, USER_COLUMNS, UserSourceConfig, substitute
from .render import user_variables

GROUP_SELECT = ("id", "displayName", "description", "mail", "mailNickname", "securityEnabled",
                "mailEnabled")
GROUP_PROPERTIES = {"displayName": "display_name", "description": "description", "mail": "mail",
                    "mailNickname": "mail_nickname", "securityEnabled": "security_enabled",
                    "mailEnabled": "mail_enabled"}
ALWAYS_SELECTED = ("id", "userPrincipalName", "mail", "mailNickname", "accountEnabled", "displayName")
TEXT_COLUMNS = ("user_principal_name", "mail", "display_name", "given_name", "surname", "job_title",
                "department", "employee_id", "mail_nickname", "user_type")


class UserSource:
    """The mapping side of a user source: Graph user JSON -> directory records."""

    def __init__(self, cfg: UserSourceConfig):
        self.cfg = cfg
        self.user_plan = MappingPlan(cfg.user_mappings)
        self.custom_plan = MappingPlan(cfg.custom_mappings)
        attrs = set(ALWAYS_SELECTED) | set(self.user_plan.source_attributes) | set(
            self.custom_plan.source_attributes)
        attrs -= {"netId"}
        self.select = ["id", *sorted(attrs - {"id"})]
        constants = {m.target for m in (*cfg.user_mappings, *cfg.custom_mappings) if m.type == "constant"}
        ignored = set(cfg.settings.ignore_missing) | ALWAYS_PRESENT | constants
        self.tracked = [a for a in (*USER_COLUMNS, *cfg.custom_names) if a not in ignored]
        connection = cfg.source_connection
        self.users_fingerprint = fingerprint({
            "tenant": connection.tenant_id, "select": self.select,
            "mappings": [m.model_dump() for m in cfg.user_mappings],
            "custom": [m.model_dump() for m in cfg.custom_mappings],
            "apple": cfg.settings.managed_apple_id.model_dump()})
        self.groups_fingerprint = fingerprint({"tenant": connection.tenant_id,
                                               "select": [*GROUP_SELECT, "members"]})

    def record(self, source: dict[str, Any], *, creating: bool) -> UserRecord:
        values = self.user_plan.map_user(source, creating=creating).values
        fields = {column: values.get(name) for name, column in USER_COLUMNS.items()}
        if fields["account_enabled"] is not None:
            fields["account_enabled"] = bool(fields["account_enabled"])
        fields["managed_apple_id"] = managed_apple_id(
            {"mail": fields["mail"], "userPrincipalName": fields["user_principal_name"]},
            self.cfg.settings.managed_apple_id)
        custom = self.custom_plan.map_user(source, creating=creating).values
        attributes = {name: text(custom.get(name)) for name in self.cfg.custom_names}
        for column in TEXT_COLUMNS:
            if fields[column] is not None and not isinstance(fields[column], str):
                fields[column] = text(fields[column])
        return UserRecord(id=source["id"], fields=fields, attributes=attributes, source=source)

    def missing(self, record: UserRecord) -> list[str]:
        """The tracked attributes without a value for this user."""
        out = []
        for name in self.tracked:
            value = (record.fields.get(USER_COLUMNS[name]) if name in USER_COLUMNS
                     else record.attributes.get(name))
            if value is None or value == "" or value == []:
                out.append(name)
        return out

    def invitation(self, record: UserRecord) -> tuple[str | None, str, str]:
        """(recipient, subject, body) of the invitation of a newly imported user."""
        row = {"id": record.id, **record.fields, "attributes": record.attributes}
        variables = user_variables(row, self.cfg)
        recipient = record.fields.get("mail")
        if not recipient:
            upn = record.fields.get("user_principal_name") or ""
            recipient = upn if "@" in upn and "#EXT#" not in upn.upper() else None
        inv = self.cfg.settings.invitation
        return recipient, substitute(inv.subject, variables), substitute(inv.body, variables)


def fingerprint(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def member_type(member: Mapping[str, Any]) -> str | None:
    """``user`` or ``group`` for a members@delta item (other directory objects are not kept)."""
    kind = (member.get("@odata.type") or "#microsoft.graph.user").rsplit(".", 1)[-1].lower()
    return kind if kind in ("user", "group") else None


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False) if value else None
    return str(value)


__all__ = ["GROUP_PROPERTIES", "GROUP_SELECT", "UserSource", "fingerprint", "member_type", "text"]
