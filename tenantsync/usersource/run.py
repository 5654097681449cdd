"""One user-source run: every user and group of an Entra tenant into an application directory.

```python
result = run_user_source("data/configs/user-source.yaml", notify=smtp_block.send)
```

Order: (disabled? say so and stop) -> claim the single enabled identity-provider slot -> users
round (/users/delta: the whole tenant the first time, then only changes) -> groups round
(/groups/delta with members@delta) -> send the invitation outbox -> notifications. Each page is
one transaction; the delta link is saved in the transaction of the last page of its round, so a
run stopped half-way reads the same changes again (every write is idempotent). A full round (the
first, or after the mappings changed, or after Graph answered resyncRequired) also removes from
the directory the objects the tenant no longer has.

Expired delta links (delta-query-overview: 410 Gone, or a 40X syncStateNotFound, after seven days
or a tenant migration) start that round again without a link. The objects it does not return are
removed only when the whole round has been read (``keep_only`` goes with its last page): the same
guarantee as the first run, whose read is the same complete view. A round that fails half-way
removes nothing. Without that reconciliation, objects deleted while the link was expired would
stay in the directory forever: no later delta round reports them. The run's message says
"users delta link expired (410 resyncRequired): full read".

Group membership comes from groups/delta with ``$select=...,members`` (members@delta); never
``$expand``, which the delta-query-overview page says delta does not support.

``notify`` is ``send(to, subject, body)``: invitations go to each new user, notifications to
``settings.notification_email``. Without it invitations stay queued in the outbox (sent by the
next run that has a sender) and notifications are stored and returned only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..connectors.directory_target import Applied, DirectoryTarget, GroupRecord, UserRecord, disable_instance
from ..errors import ConfigError, ErrorKind, GraphError
from ..stages.mapping import MappingPlan
from .appleid import managed_apple_id
from .config import ALWAYS_PRESENT, USER_COLUMNS, UserSourceConfig, load_user_source_config, substitute
from .notifications import Notification, attribute_notifications, unreachable_notification
from .render import user_variables

log = logging.getLogger("tenantsync.usersource")

Send = Callable[[str, str, str], Any]

GROUP_SELECT = ("id", "displayName", "description", "mail", "mailNickname", "securityEnabled",
                "mailEnabled")
GROUP_PROPERTIES = {"displayName": "display_name", "description": "description", "mail": "mail",
                    "mailNickname": "mail_nickname", "securityEnabled": "security_enabled",
                    "mailEnabled": "mail_enabled"}
ALWAYS_SELECTED = ("id", "userPrincipalName", "mail", "mailNickname", "accountEnabled", "displayName")
MAX_INVITATION_ATTEMPTS = 5
LISTED_INVITATIONS = 100       # invitations listed in a run result (failed ones first)
INVITATION_BATCH = 50          # invitations claimed (then marked) per transaction
# The failures the "Entra ID unreachable" notification covers: no answer (after the retries), the
# credentials refused (401, or no token at all) and a permission refused (403).
UNREACHABLE = (ErrorKind.TRANSIENT, ErrorKind.AUTH, ErrorKind.FORBIDDEN)
COUNT_KEYS = ("users_created", "users_updated", "users_removed", "groups_created", "groups_updated",
              "groups_removed", "memberships_added", "memberships_removed", "invitations_queued",
              "invitations_sent", "invitations_failed", "invitations_pending")


@dataclass
class _Round:
    """What a run has done so far (for the result, and for the notifications)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    users_read: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)     # expired delta links, said in the message
    call: tuple[str, str] = ("GET", "/users/delta")     # the round under way: names a 403's permission

    def add(self, prefix: str, applied: Applied) -> None:
        self.counts[f"{prefix}_created"] += len(applied.created)
        self.counts[f"{prefix}_updated"] += len(applied.updated)
        self.counts[f"{prefix}_removed"] += len(applied.removed)
        self.counts["memberships_added"] += applied.members_added
        self.counts["memberships_removed"] += applied.members_removed
        self.counts["invitations_queued"] += applied.invitations_queued


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
        self.users_fingerprint = _fingerprint({
            "tenant": connection.tenant_id, "select": self.select,
            "mappings": [m.model_dump() for m in cfg.user_mappings],
            "custom": [m.model_dump() for m in cfg.custom_mappings],
            "apple": cfg.settings.managed_apple_id.model_dump()})
        self.groups_fingerprint = _fingerprint({"tenant": connection.tenant_id,
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
        attributes = {name: _text(custom.get(name)) for name in self.cfg.custom_names}
        for column in ("user_principal_name", "mail", "display_name", "given_name", "surname", "job_title",
                       "department", "employee_id", "mail_nickname", "user_type"):
            if fields[column] is not None and not isinstance(fields[column], str):
                fields[column] = _text(fields[column])
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


def run_user_source(cfg_or_path: UserSourceConfig | str | Path, *, notify: Send | None = None,
                    api: Any = None) -> dict[str, Any]:
    """Run one user-source cycle; returns the run summary (see module docstring).

    ``api``: a GraphApi (or compatible) for the source tenant; built from the configuration when
    None (and closed at the end). Raises ConfigError for an invalid configuration and when another
    identity-provider instance is enabled for the same directory; a tenant that cannot be reached,
    or that refuses the credentials (401) or a permission (403), is a failed run with an
    ``entra_unreachable`` notification naming what to fix, not an exception.
    """
    cfg = cfg_or_path if isinstance(cfg_or_path, UserSourceConfig) else load_user_source_config(cfg_or_path)
    s = cfg.settings
    started = datetime.now(UTC)
    base = {"config": cfg.name, "instance": s.instance_name, "directory": _safe_url(cfg.directory_url),
            "interval_minutes": s.interval_minutes, "started": started.isoformat()}
    if not s.enabled:
        was_enabled = disable_instance(cfg.directory_url, cfg.name)
        message = (f"user source {cfg.name!r} (instance {s.instance_name!r}) is disabled "
                   "(settings.enabled: false): nothing was read or synced")
        if was_enabled:
            message += "; the instance is now marked disabled in the directory"
        log.info(message)
        return {**base, "status": "disabled", "kind": None, "cycle_id": None, "message": message,
                "counts": dict.fromkeys(COUNT_KEYS, 0), "notifications": [], "invitations": [],
                "ended": datetime.now(UTC).isoformat()}

    source = UserSource(cfg)
    directory = DirectoryTarget.for_url(cfg.directory_url)
    connection = cfg.source_connection
    directory.claim_instance(cfg.name, s.instance_name, tenant_id=connection.tenant_id,
                             error=lambda msg: ConfigError(msg, **cfg.where(("settings", "enabled"))))
    with directory.run_lock(cfg.name) as mine:
        if not mine:
            message = f"another run of user source {cfg.name!r} is in progress: this one did nothing"
            log.info(message)
            return {**base, "status": "busy", "kind": None, "cycle_id": None, "message": message,
                    "counts": dict.fromkeys(COUNT_KEYS, 0), "notifications": [], "invitations": [],
                    "ended": datetime.now(UTC).isoformat()}
        return _run(cfg, source, directory, notify, api, base)


def _run(cfg: UserSourceConfig, source: UserSource, directory: DirectoryTarget, notify: Send | None,
         api: Any, base: dict[str, Any]) -> dict[str, Any]:
    s = cfg.settings
    connection = cfg.source_connection
    links = directory.delta_links(cfg.name)
    users_link = _valid(links.get("users"), source.users_fingerprint)
    groups_link = _valid(links.get("groups"), source.groups_fingerprint)
    kind = "incremental" if users_link and groups_link else "initial"
    cycle_id = directory.start_cycle(cfg.name, kind)
    state = _Round()
    status, message, error = "success", "", None
    notes: list[Notification] = []
    own_api = api is None
    t0 = time.monotonic()
    try:
        if api is None:
            from ..graph.api import GraphApi
            from ..graph.core import RetryPolicy

            api = GraphApi(connection, read_only=True,
                           retry_policy=RetryPolicy(max_retries=s.graph_max_retries))
        _users_round(api, directory, source, users_link, state)
        state.call = ("GET", "/groups/delta")
        _groups_round(api, directory, source, groups_link, state)
        notes += attribute_notifications(s.instance_name, state.users_read, state.missing, source.tracked)
    except GraphError as exc:
        status, error = "failed", str(exc)
        if exc.kind in UNREACHABLE:
            # Refused credentials and missing permissions are the same notification, naming the fix.
            note = unreachable_notification(s.instance_name, connection, exc, state.call)
            notes.append(note)
            message = f"Entra ID unreachable: {exc}" if exc.kind is ErrorKind.TRANSIENT else \
                f"Entra ID {'refused the credentials' if exc.kind is ErrorKind.AUTH else 'refused a permission'}: " \
                f"{exc}; fix: {note.details['fix']}"
        else:
            message = f"Entra ID answered an error: {exc}"
        if state.users_read:
            notes += attribute_notifications(s.instance_name, state.users_read, state.missing, source.tracked)
    except BaseException as exc:                 # a database failure, a bug, an interrupt
        try:
            directory.finish_cycle(cycle_id, "failed", state.counts, f"{kind} cycle failed: "
                                   f"{type(exc).__name__}: {exc}")
        except Exception:                        # the database itself may be what failed
            log.exception("%s: could not record the failed cycle %s", cfg.name, cycle_id)
        raise
    finally:
        if own_api and api is not None:
            api.close()

    # Queued invitations go out even when a round failed: the users they belong to are imported.
    invitations = _send_invitations(directory, cfg, notify, state)
    if len(invitations) > LISTED_INVITATIONS:  # the counts say how many; the outbox has every row
        failed = [i for i in invitations if i["status"] == "failed"][:LISTED_INVITATIONS]
        invitations = failed + [i for i in invitations if i["status"] != "failed"][:LISTED_INVITATIONS - len(failed)]
    stored = _store_notifications(directory, cfg, cycle_id, notes, notify)
    c = state.counts
    summary = (f"users +{c['users_created']} ~{c['users_updated']} -{c['users_removed']}, "
               f"groups +{c['groups_created']} ~{c['groups_updated']} -{c['groups_removed']}, "
               f"memberships +{c['memberships_added']} -{c['memberships_removed']}, "
               f"invitations sent {c['invitations_sent']}")
    message = f"{kind} cycle {status}: {summary}" + "".join(f"; {m}" for m in (*state.notes, message) if m)
    directory.finish_cycle(cycle_id, status, c, message)
    return {**base, "status": status, "kind": kind, "cycle_id": cycle_id, "message": message,
            "error": error, "counts": c, "users_read": state.users_read,
            "duration_s": round(time.monotonic() - t0, 3),
            "notifications": stored, "invitations": invitations,
            "ended": datetime.now(UTC).isoformat()}


# -- rounds ---------------------------------------------------------------------------------------

def _users_round(api: Any, directory: DirectoryTarget, source: UserSource, link: str | None,
                 state: _Round) -> None:
    try:
        _users_pages(api, directory, source, link, state)
    except GraphError as exc:
        if not (link and exc.needs_resync):
            raise
        _expired(source.cfg, state, "users", exc)
        _users_pages(api, directory, source, None, state)


def _users_pages(api: Any, directory: DirectoryTarget, source: UserSource, link: str | None,
                 state: _Round) -> None:
    cfg = source.cfg
    full = link is None
    seen: set[str] = set()
    rnd = api.delta("users", select=source.select, link=link)
    invitation = source.invitation if cfg.settings.auto_invite else None
    for page in rnd.pages():
        removed: list[str] = []
        changed: dict[str, dict[str, Any]] = {}
        for item in page:
            oid = item.get("id")
            if not oid:
                continue
            if "@removed" in item:
                removed.append(oid)
                changed.pop(oid, None)
                continue
            removed = [r for r in removed if r != oid]
            props = {k: v for k, v in item.items() if not k.startswith("@") and "@odata" not in k}
            changed[oid] = {**changed.get(oid, {}), **props}
        stored = directory.user_sources(list(changed))
        records = []
        for oid, props in changed.items():
            merged = props if full else {**stored.get(oid, {}), **props}
            record = source.record(merged, creating=oid not in stored)
            records.append(record)
            state.users_read += 1
            for name in source.missing(record):
                state.missing[name] = state.missing.get(name, 0) + 1
        seen.update(changed)
        last = rnd.delta_link is not None
        applied = directory.apply_users(
            cfg.name, records, removed, invitation=invitation,
            keep_only=seen if (full and last) else None,
            link=(rnd.delta_link, source.users_fingerprint) if last else None)
        state.add("users", applied)


def _groups_round(api: Any, directory: DirectoryTarget, source: UserSource, link: str | None,
                  state: _Round) -> None:
    try:
        _groups_pages(api, directory, source, link, state)
    except GraphError as exc:
        if not (link and exc.needs_resync):
            raise
        _expired(source.cfg, state, "groups", exc)
        _groups_pages(api, directory, source, None, state)


def _expired(cfg: UserSourceConfig, state: _Round, what: str, exc: GraphError) -> None:
    note = (f"{what} delta link expired ({exc.status} {exc.code}): full read (removals only after "
            "the whole round, as in a first run)")
    state.notes.append(note)
    log.warning("%s: %s", cfg.name, note)


def _groups_pages(api: Any, directory: DirectoryTarget, source: UserSource, link: str | None,
                  state: _Round) -> None:
    cfg = source.cfg
    full = link is None
    seen: set[str] = set()
    members_full: dict[str, dict[str, str]] = {}
    rnd = api.delta("groups", select=list(GROUP_SELECT), members=True, link=link)
    for page in rnd.pages():
        records: dict[str, GroupRecord] = {}
        removed: list[str] = []
        added: list[tuple[str, str, str]] = []
        dropped: list[tuple[str, str]] = []
        for item in page:
            gid = item.get("id")
            if not gid:
                continue
            if "@removed" in item:
                removed.append(gid)
                records.pop(gid, None)
                members_full.pop(gid, None)
                continue
            fields = {column: item[name] for name, column in GROUP_PROPERTIES.items() if name in item}
            if fields or full:
                prev = records.get(gid)
                records[gid] = GroupRecord(gid, {**(prev.fields if prev else {}), **fields})
            seen.add(gid)
            members = item.get("members@delta") or []
            if full:
                bucket = members_full.setdefault(gid, {})
            for m in members:
                mtype = _member_type(m)
                if mtype is None or not m.get("id"):
                    continue
                if full:
                    if "@removed" in m:
                        bucket.pop(m["id"], None)
                    else:
                        bucket[m["id"]] = mtype
                elif "@removed" in m:
                    dropped.append((gid, m["id"]))
                else:
                    added.append((gid, m["id"], mtype))
        last = rnd.delta_link is not None
        applied = directory.apply_groups(
            cfg.name, list(records.values()), removed, members_added=added, members_removed=dropped,
            members_full=members_full if (full and last) else None,
            keep_only=seen if (full and last) else None,
            link=(rnd.delta_link, source.groups_fingerprint) if last else None)
        state.add("groups", applied)


# -- outbox and notifications ---------------------------------------------------------------------

def _send_invitations(directory: DirectoryTarget, cfg: UserSourceConfig, send: Send | None,
                      state: _Round) -> list[dict[str, Any]]:
    """Send every queued invitation of this instance once; failed ones are retried next run up to
    MAX_INVITATION_ATTEMPTS times. Rows are claimed ('sending') before their e-mails go out, a
    batch per transaction: a row left 'sending' by a killed run is never sent again (at most one
    e-mail per user; the outbox shows it)."""
    out: list[dict[str, Any]] = []
    queued = [i for i in directory.invitations(cfg.name)
              if i["status"] == "pending" or (i["status"] == "failed" and i["attempts"] < MAX_INVITATION_ATTEMPTS)]
    if send is None:
        state.counts["invitations_pending"] = len(queued)
        return [{"user_id": i["user_id"], "recipient": i["recipient"], "status": i["status"],
                 "note": "no sender configured: kept in the outbox"} for i in queued]
    by_id = {i["id"]: i for i in queued}
    ids = list(by_id)
    for start in range(0, len(ids), INVITATION_BATCH):
        outcomes: dict[int, str | None] = {}
        try:
            for iid in directory.claim_invitations(ids[start:start + INVITATION_BATCH]):
                inv = by_id[iid]
                try:
                    send(inv["recipient"], inv["subject"], inv["body"])
                except Exception as exc:  # an SMTP or network failure: kept for the next run
                    outcomes[iid] = f"{type(exc).__name__}: {exc}"
                    state.counts["invitations_failed"] += 1
                    out.append({"user_id": inv["user_id"], "recipient": inv["recipient"], "status": "failed",
                                "error": outcomes[iid]})
                    continue
                outcomes[iid] = None
                state.counts["invitations_sent"] += 1
                out.append({"user_id": inv["user_id"], "recipient": inv["recipient"], "status": "sent"})
        finally:
            if outcomes:
                directory.finish_invitations(outcomes)
    return out


def _store_notifications(directory: DirectoryTarget, cfg: UserSourceConfig, cycle_id: int,
                         notes: Iterable[Notification], send: Send | None) -> list[dict[str, Any]]:
    """Store each notification; e-mail it (when there is a sender and a recipient) unless the
    previous cycle already reported exactly the same thing."""
    notes = list(notes)
    if not notes:
        return []
    recipient = cfg.settings.notification_email
    previous = [c["id"] for c in directory.cycles(cfg.name) if c["id"] < cycle_id]
    before = {(n["kind"], json.dumps(n["details"], sort_keys=True))
              for n in (directory.notifications(cfg.name, cycle_id=previous[-1]) if previous else [])}
    out = []
    for note in notes:
        nid = directory.add_notification(cfg.name, cycle_id, note.kind, note.subject, note.body,
                                         note.details, recipient)
        row = {"kind": note.kind, "subject": note.subject, "body": note.body, "details": note.details,
               "recipient": recipient, "emailed": False}
        if (note.kind, json.dumps(note.details, sort_keys=True)) in before:
            row["email_note"] = "same as the previous run: not e-mailed again"
        elif send is not None and recipient:
            try:
                send(recipient, note.subject, note.body)
                directory.mark_notification_emailed(nid)
                row["emailed"] = True
            except Exception as exc:
                row["email_error"] = f"{type(exc).__name__}: {exc}"
        out.append(row)
    return out


# -- helpers --------------------------------------------------------------------------------------

def _valid(entry: tuple[str, str] | None, fingerprint: str) -> str | None:
    if entry is None:
        return None
    link, fp = entry
    return link if fp == fingerprint else None


def _fingerprint(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _member_type(member: Mapping[str, Any]) -> str | None:
    kind = (member.get("@odata.type") or "#microsoft.graph.user").rsplit(".", 1)[-1].lower()
    return kind if kind in ("user", "group") else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False) if value else None
    return str(value)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


__all__ = ["UserSource", "run_user_source"]
