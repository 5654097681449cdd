"""What a user-source run e-mails: the invitation outbox and the notifications.

Invitations: one row per user ever (``directory_invitations``), queued in the transaction that
imports the user. A run sends every queued row of its instance once; a failed e-mail is retried by
later runs up to ``MAX_INVITATION_ATTEMPTS`` times. Rows are claimed ('sending') before their
e-mails go out, a batch per transaction: a row left 'sending' by a killed run is never sent again,
so a user gets at most one invitation (the outbox shows the row).

Notifications: each is stored with its cycle and e-mailed to ``settings.notification_email``,
unless the previous cycle already reported exactly the same thing (a tenant unreachable for a day
is one e-mail, not one per run).

``send(to, subject, body)`` delivers one e-mail; without it invitations stay queued (sent by the
next run that has a sender) and notifications are stored only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from ..connectors.directory_target import DirectoryTarget
from .notifications import Notification

Send = Callable[[str, str, str], Any]

MAX_INVITATION_ATTEMPTS = 5
LISTED_INVITATIONS = 100       # invitations listed in a run result (failed ones first)
INVITATION_BATCH = 50          # invitations claimed (then marked) per transaction


def send_invitations(directory: DirectoryTarget, instance: str, send: Send | None,
                     counts: MutableMapping[str, int]) -> list[dict[str, Any]]:
    """Send the queued invitations of ``instance``; adds to ``counts`` (invitations_sent, _failed,
    _pending) and returns one row per invitation, at most LISTED_INVITATIONS (failed ones first)."""
    out: list[dict[str, Any]] = []
    queued = [i for i in directory.invitations(instance)
              if i["status"] == "pending" or (i["status"] == "failed" and i["attempts"] < MAX_INVITATION_ATTEMPTS)]
    if send is None:
        counts["invitations_pending"] = len(queued)
        return _listed([{"user_id": i["user_id"], "recipient": i["recipient"], "status": i["status"],
                         "note": "no sender configured: kept in the outbox"} for i in queued])
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
                    counts["invitations_failed"] += 1
                    out.append({"user_id": inv["user_id"], "recipient": inv["recipient"], "status": "failed",
                                "error": outcomes[iid]})
                    continue
                outcomes[iid] = None
                counts["invitations_sent"] += 1
                out.append({"user_id": inv["user_id"], "recipient": inv["recipient"], "status": "sent"})
        finally:
            if outcomes:
                directory.finish_invitations(outcomes)
    return _listed(out)


def _listed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The counts say how many; the result lists at most LISTED_INVITATIONS (the outbox has every row)."""
    if len(rows) <= LISTED_INVITATIONS:
        return rows
    failed = [i for i in rows if i["status"] == "failed"][:LISTED_INVITATIONS]
    return failed + [i for i in rows if i["status"] != "failed"][:LISTED_INVITATIONS - len(failed)]


def store_notifications(directory: DirectoryTarget, instance: str, cycle_id: int,
                        notes: Iterable[Notification], send: Send | None,
                        recipient: str | None) -> list[dict[str, Any]]:
    """Store each notification; e-mail it (when there is a sender and a recipient) unless the
    previous cycle already reported exactly the same thing."""
    notes = list(notes)
    if not notes:
        return []
    previous = [c["id"] for c in directory.cycles(instance) if c["id"] < cycle_id]
    before = {(n["kind"], json.dumps(n["details"], sort_keys=True))
              for n in (directory.notifications(instance, cycle_id=previous[-1]) if previous else [])}
    out = []
    for note in notes:
        nid = directory.add_notification(instance, cycle_id, note.kind, note.subject, note.body,
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


__all__ = ["INVITATION_BATCH", "LISTED_INVITATIONS", "MAX_INVITATION_ATTEMPTS", "Send", "send_invitations",
           "store_notifications"]
