"""CSV exports of an application directory fed by a user source (UTF-8, one header row,
formula-safe cells through tenantsync.reports.write_csv): what an auditor opens.

``export_report(cfg_or_path, out_dir)`` writes ``directory-users.csv``, ``directory-groups.csv``,
``directory-memberships.csv``, ``directory-invitations.csv``, ``directory-notifications.csv`` and
``directory-cycles.csv`` under ``out_dir/<config name>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..connectors.directory_target import DirectoryTarget, directory_exists
from ..errors import ConfigError
from .config import USER_COLUMNS, UserSourceConfig, load_user_source_config

USER_REPORT_COLUMNS = ("id", *USER_COLUMNS, "managedAppleId", "attributes", "created", "updated")
GROUP_REPORT_COLUMNS = ("id", "displayName", "description", "mail", "mailNickname", "securityEnabled",
                        "mailEnabled", "members", "created", "updated")
MEMBERSHIP_COLUMNS = ("groupId", "groupDisplayName", "memberId", "memberType", "memberDisplayName")
INVITATION_COLUMNS = ("userId", "recipient", "status", "attempts", "created", "sent", "error", "subject")
NOTIFICATION_COLUMNS = ("created", "cycleId", "kind", "subject", "body", "details", "recipient", "emailed")
CYCLE_COLUMNS = ("cycleId", "kind", "status", "started", "ended", "message", "counts")


def export_report(cfg_or_path: UserSourceConfig | str | Path, out_dir: str | Path) -> dict[str, Path]:
    from ..reports import write_csv

    cfg = cfg_or_path if isinstance(cfg_or_path, UserSourceConfig) else load_user_source_config(cfg_or_path)
    if not directory_exists(cfg.directory_url):
        raise ConfigError(f"the directory {cfg.directory_url} does not exist yet: run `tenantsync user-source` "
                          f"for {cfg.name!r} first", key="target.directory")
    d = DirectoryTarget.for_url(cfg.directory_url)
    base = Path(out_dir) / cfg.name
    users = d.users(cfg.name)
    names = {u["id"]: u["display_name"] for u in users}
    groups = d.groups(cfg.name)
    names.update({g["id"]: g["display_name"] for g in groups})
    members = d.memberships(cfg.name)
    user_rows = [{"id": u["id"], **{g: u[c] for g, c in USER_COLUMNS.items()},
                  "managedAppleId": u["managed_apple_id"], "attributes": u["attributes"],
                  "created": u["created_at"], "updated": u["updated_at"]} for u in users]
    group_rows = [{"id": g["id"], "displayName": g["display_name"], "description": g["description"],
                   "mail": g["mail"], "mailNickname": g["mail_nickname"], "securityEnabled": g["security_enabled"],
                   "mailEnabled": g["mail_enabled"], "members": len(members.get(g["id"], {})),
                   "created": g["created_at"], "updated": g["updated_at"]} for g in groups]
    membership_rows = [{"groupId": gid, "groupDisplayName": names.get(gid), "memberId": mid, "memberType": kind,
                        "memberDisplayName": names.get(mid)}
                       for gid, ms in sorted(members.items()) for mid, kind in sorted(ms.items())]
    invitation_rows = [{"userId": i["user_id"], "recipient": i["recipient"], "status": i["status"],
                        "attempts": i["attempts"], "created": i["created_at"], "sent": i["sent_at"],
                        "error": i["error"], "subject": i["subject"]} for i in d.invitations(cfg.name)]
    notification_rows = [{"created": n["created_at"], "cycleId": n["cycle_id"], "kind": n["kind"],
                          "subject": n["subject"], "body": n["body"], "details": n["details"],
                          "recipient": n["recipient"], "emailed": n["emailed_at"]} for n in d.notifications(cfg.name)]
    cycle_rows = [{"cycleId": c["id"], "kind": c["kind"], "status": c["status"], "started": c["started_at"],
                   "ended": c["ended_at"], "message": c["message"], "counts": c["counts"]} for c in d.cycles(cfg.name)]
    files: dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]] = {
        "directory-users": (user_rows, USER_REPORT_COLUMNS),
        "directory-groups": (group_rows, GROUP_REPORT_COLUMNS),
        "directory-memberships": (membership_rows, MEMBERSHIP_COLUMNS),
        "directory-invitations": (invitation_rows, INVITATION_COLUMNS),
        "directory-notifications": (notification_rows, NOTIFICATION_COLUMNS),
        "directory-cycles": (cycle_rows, CYCLE_COLUMNS),
    }
    return {name: write_csv(rows, columns, base / f"{name}.csv") for name, (rows, columns) in files.items()}


__all__ = ["export_report"]
