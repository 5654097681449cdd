"""UPN-suffix readiness, as Microsoft Entra Connect's sign-in page shows it (how-to-connect-install-custom,
plan-connect-userprincipalname; docs/entra-behaviour.md#entra-connect-upn-suffixes).

For every UPN suffix among a source's users: **Verified**, **Not verified** (the domain is added to
the target tenant but not verified) or **Not added**, and the UPN each user would get in the
target: the on-premises UPN when its suffix is verified (and its characters are valid), else
``<mailNickname>@<initial .onmicrosoft.com domain>``, where the prefix is the MailNickName (first
present of: mailNickname, primary SMTP prefix, mail prefix, UPN prefix, secondary SMTP prefix).

```python
rows = readiness(source_users, target_domains, "contoso.onmicrosoft.com")   # list[SuffixRow]
[r.warning for r in rows if r.warning]          # test connection shows these as warnings
write_readiness_report(rows, "data/reports/x")  # upn-suffixes.csv + upn-suffix-users.csv
readiness_artifact(rows)                        # markdown + table for a Prefect artifact
```

``sync_identity`` is the stateful form (what a later sync changes): MailNickName changes only
when the on-premises mailNickname changes, the UPN is recalculated only when the on-premises UPN
changes or the suffix's verified state changes — the five documented vectors are its tests.

B2B guests' ``#EXT#`` UPNs and users without a UPN are left out (they are not synced by UPN).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class SuffixState(str, Enum):
    VERIFIED = "Verified"
    NOT_VERIFIED = "Not verified"
    NOT_ADDED = "Not added"

    def __str__(self) -> str:
        return self.value


# Characters Entra accepts in a UPN prefix: A-Z a-z 0-9 ' . - _ ! # ^ ~ (no leading, trailing or
# doubled dot, at most 64 characters); the suffix must be a domain name.
_PREFIX = re.compile(r"^[A-Za-z0-9'._!#^~-]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


@dataclass(frozen=True)
class UserUpn:
    """One user: the UPN it has at the source and the UPN it would get in the target."""

    id: str | None
    source_upn: str
    suffix: str
    state: SuffixState
    mail_nickname: str | None
    cloud_upn: str | None
    reason: str

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "userPrincipalName": self.source_upn, "suffix": self.suffix,
                "state": str(self.state), "mailNickname": self.mail_nickname,
                "cloudUserPrincipalName": self.cloud_upn, "reason": self.reason}


@dataclass(frozen=True)
class SuffixRow:
    """One UPN suffix of the source's users against the target tenant's domains."""

    suffix: str
    state: SuffixState
    users: int
    initial_domain: str | None
    user_upns: tuple[UserUpn, ...] = field(default=(), repr=False)

    @property
    def verified(self) -> bool:
        return self.state is SuffixState.VERIFIED

    @property
    def example(self) -> UserUpn | None:
        return self.user_upns[0] if self.user_upns else None

    @property
    def warning(self) -> str | None:
        """A one-line warning for test connection; None for a verified suffix."""
        if self.verified:
            return None
        ex = self.example
        example = f" (e.g. {ex.source_upn} -> {ex.cloud_upn})" if ex and ex.cloud_upn else ""
        what = ("is added to the target tenant but not verified" if self.state is SuffixState.NOT_VERIFIED
                else "is not added to the target tenant")
        return (f"UPN suffix {self.suffix} ({self.users} user{'s' if self.users != 1 else ''}) {what}: "
                f"those users would get <mailNickname>@{self.initial_domain or '<initial domain>'}"
                f"{example}")

    def as_row(self) -> dict[str, Any]:
        ex = self.example
        return {"suffix": self.suffix, "state": str(self.state), "users": self.users,
                "exampleUserPrincipalName": ex.source_upn if ex else None,
                "exampleCloudUserPrincipalName": ex.cloud_upn if ex else None}


# -- domains --------------------------------------------------------------------------------------

def domain_states(target_domains: Any) -> dict[str, bool]:
    """Domain name (lower case) -> verified, from GET /domains values (``{"id", "isVerified"}``),
    a ``{name: verified}`` mapping, or plain names (taken as verified)."""
    if isinstance(target_domains, Mapping):
        if "value" in target_domains and isinstance(target_domains["value"], list):
            return domain_states(target_domains["value"])
        return {str(k).lower(): bool(v) for k, v in target_domains.items()}
    out: dict[str, bool] = {}
    for d in target_domains or ():
        if isinstance(d, str):
            out[d.lower()] = True
        elif isinstance(d, Mapping):
            name = d.get("id") or d.get("name")
            if name:
                out[str(name).lower()] = bool(d.get("isVerified", True))
    return out


def initial_domain_of(target_domains: Any) -> str | None:
    """The tenant's initial domain (``isInitial``), else its first ``*.onmicrosoft.com`` domain."""
    if isinstance(target_domains, Mapping) and isinstance(target_domains.get("value"), list):
        target_domains = target_domains["value"]
    items = list(target_domains.items()) if isinstance(target_domains, Mapping) else list(target_domains or ())
    for d in items:
        if isinstance(d, Mapping) and d.get("isInitial"):
            return str(d.get("id") or d.get("name"))
    for d in items:
        name = d[0] if isinstance(d, tuple) else (d if isinstance(d, str) else (d.get("id") or d.get("name")))
        name = str(name or "").lower()
        if name.endswith(".onmicrosoft.com") and not name.endswith(".mail.onmicrosoft.com"):
            return name
    return None


def suffix_state(suffix: str, target_domains: Any) -> SuffixState:
    """Verified, Not verified or Not added, as the Connect wizard marks ``suffix``."""
    states = domain_states(target_domains)
    verified = states.get(suffix.lower())
    if verified is None:
        return SuffixState.NOT_ADDED
    return SuffixState.VERIFIED if verified else SuffixState.NOT_VERIFIED


# -- one user -------------------------------------------------------------------------------------

def upn_is_valid(upn: str) -> bool:
    prefix, at, suffix = upn.rpartition("@")
    if not at or not _PREFIX.match(prefix) or not _DOMAIN.match(suffix):
        return False
    return not (prefix.startswith(".") or prefix.endswith(".") or ".." in prefix)


def _prefix(address: Any) -> str | None:
    if not isinstance(address, str) or "@" not in address:
        return None
    local = address.rpartition("@")[0].strip()
    return local or None


def _proxies(user: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """(primary SMTP address, secondary SMTP addresses) from proxyAddresses."""
    primary, secondary = None, []
    for p in user.get("proxyAddresses") or []:
        if not isinstance(p, str) or ":" not in p:
            continue
        kind, _, address = p.partition(":")
        if kind == "SMTP" and primary is None:
            primary = address
        elif kind.lower() == "smtp":
            secondary.append(address)
    return primary, secondary


def derive_mail_nickname(user: Mapping[str, Any]) -> str | None:
    """MailNickName on first sync: first present of mailNickname, primary SMTP prefix, mail
    prefix, UPN prefix, secondary SMTP prefix (plan-connect-userprincipalname)."""
    nick = user.get("mailNickname")
    if isinstance(nick, str) and nick.strip():
        return nick.strip()
    primary, secondary = _proxies(user)
    for candidate in (_prefix(primary), _prefix(user.get("mail")), _prefix(user.get("userPrincipalName")),
                      *(_prefix(s) for s in secondary)):
        if candidate:
            return candidate
    return None


def _cloud_upn(upn: str, nickname: str | None, state: SuffixState,
               initial_domain: str | None) -> tuple[str | None, str]:
    if state is SuffixState.VERIFIED and upn_is_valid(upn):
        return upn, "suffix verified: the UPN is kept"
    why = ("invalid characters in the UPN" if state is SuffixState.VERIFIED
           else f"suffix {str(state).lower()}")
    if not nickname or not initial_domain:
        return None, f"{why}; no mailNickname or initial domain to fall back on"
    return f"{nickname}@{initial_domain}", f"{why}: <mailNickname>@<initial domain>"


def user_upn(user: Mapping[str, Any], target_domains: Any, initial_domain: str | None) -> UserUpn | None:
    """The target UPN of one source user on its first sync (None for guests and users without UPN)."""
    upn = user.get("userPrincipalName")
    if not isinstance(upn, str) or "@" not in upn or "#EXT#" in upn.upper():
        return None
    suffix = upn.rpartition("@")[2].lower()
    state = suffix_state(suffix, target_domains)
    nickname = derive_mail_nickname(user)
    cloud, reason = _cloud_upn(upn, nickname, state, initial_domain)
    return UserUpn(user.get("id"), upn, suffix, state, nickname, cloud, reason)


# -- the readiness report -------------------------------------------------------------------------

def user_rows(source_users: Iterable[Mapping[str, Any]], target_domains: Any,
              initial_domain: str | None = None) -> list[UserUpn]:
    states = domain_states(target_domains)
    initial = initial_domain or initial_domain_of(target_domains)
    out = []
    for user in source_users:
        row = user_upn(user, states, initial)
        if row is not None:
            out.append(row)
    return out


def readiness(source_users: Iterable[Mapping[str, Any]], target_domains: Any,
              initial_domain: str | None = None) -> list[SuffixRow]:
    """One row per UPN suffix among ``source_users`` (Graph user dicts: userPrincipalName,
    mailNickname, mail, proxyAddresses), by suffix; ``target_domains`` as GET /domains returns them
    (or ``{name: verified}``); ``initial_domain`` defaults to the domains' initial one."""
    initial = initial_domain or initial_domain_of(target_domains)
    by_suffix: dict[str, list[UserUpn]] = {}
    for row in user_rows(source_users, target_domains, initial):
        by_suffix.setdefault(row.suffix, []).append(row)
    states = domain_states(target_domains)
    return [SuffixRow(s, suffix_state(s, states), len(rows), initial, tuple(rows))
            for s, rows in sorted(by_suffix.items())]


def readiness_warnings(rows: Sequence[SuffixRow]) -> list[str]:
    return [r.warning for r in rows if r.warning]


SUFFIX_COLUMNS = ("suffix", "state", "users", "exampleUserPrincipalName", "exampleCloudUserPrincipalName")
USER_COLUMNS = ("id", "userPrincipalName", "suffix", "state", "mailNickname", "cloudUserPrincipalName", "reason")


def write_readiness_report(rows: Sequence[SuffixRow], out_dir: str | Path) -> dict[str, Path]:
    """``upn-suffixes.csv`` (one row per suffix) and ``upn-suffix-users.csv`` (one row per user),
    UTF-8, formula-safe cells (through tenantsync.reports.write_csv)."""
    from ..reports import write_csv

    out = Path(out_dir)
    return {
        "upn-suffixes": write_csv([r.as_row() for r in rows], SUFFIX_COLUMNS, out / "upn-suffixes.csv"),
        "upn-suffix-users": write_csv([u.as_row() for r in rows for u in r.user_upns], USER_COLUMNS,
                                      out / "upn-suffix-users.csv"),
    }


def readiness_artifact(rows: Sequence[SuffixRow]) -> dict[str, Any]:
    """What the Prefect layer turns into artifacts: ``key``, ``markdown`` (create_markdown_artifact)
    and ``table`` (create_table_artifact: a list of dicts), plus ``warnings``."""
    lines = ["# UPN suffix readiness", ""]
    if rows:
        initial = rows[0].initial_domain or "<initial domain>"
        lines += [f"Unverified or missing suffixes fall back to `<mailNickname>@{initial}`.", "",
                  "| UPN suffix | State | Users | Example |", "|---|---|---:|---|"]
        for r in rows:
            ex = r.example
            example = f"`{ex.source_upn}` → `{ex.cloud_upn}`" if ex and ex.cloud_upn else ""
            lines.append(f"| {_md(r.suffix)} | {r.state} | {r.users} | {example} |")
    else:
        lines.append("No source user has a UPN to check.")
    return {"key": "upn-suffix-readiness", "markdown": "\n".join(lines) + "\n",
            "table": [r.as_row() for r in rows], "warnings": readiness_warnings(rows)}


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def readiness_from_graph(source_api: Any, target_api: Any | None = None) -> list[SuffixRow]:
    """Read the source's users and the target's domains (GET /domains) through GraphApi."""
    target_api = target_api or source_api
    users = [u for page in source_api.iter_pages(
        "users", select=["id", "userPrincipalName", "mailNickname", "mail", "proxyAddresses"]) for u in page]
    domains = target_api.get_json("/domains").get("value", [])
    return readiness(users, domains, initial_domain_of(domains))


def readiness_for_config(cfg: Any) -> list[SuffixRow]:
    """Readiness of a configuration's source users: against the target tenant's domains for a
    cross-tenant configuration (target ``connection``), against the source tenant's own domains
    for a user source (whose users keep their Entra UPNs)."""
    from ..graph.api import GraphApi

    if hasattr(cfg, "source_connection"):                 # a user-source configuration
        source, target = cfg.source_connection, None
    else:
        source = cfg.connection(cfg.source.connection)
        target = cfg.connection(cfg.target.connection) if getattr(cfg.target, "connection", None) else None
    src = GraphApi(source, read_only=True)
    tgt = GraphApi(target, read_only=True) if target is not None else None
    try:
        return readiness_from_graph(src, tgt)
    finally:
        src.close()
        if tgt is not None:
            tgt.close()


# -- the stateful form (plan-connect-userprincipalname's example) ---------------------------------

@dataclass(frozen=True)
class CloudState:
    """What Entra holds for a synced user, and what it was computed from."""

    mail_nickname: str | None
    upn: str | None
    onprem_upn: str
    onprem_mail_nickname: str | None
    suffix_state: SuffixState

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "suffix_state": str(self.suffix_state)}


def sync_identity(onprem: Mapping[str, Any], previous: CloudState | None, target_domains: Any,
                  initial_domain: str | None = None) -> CloudState:
    """The cloud MailNickName and UPN after syncing ``onprem`` (userPrincipalName, mailNickname,
    mail, proxyAddresses) over ``previous`` (None: first sync)."""
    states = domain_states(target_domains)
    initial = initial_domain or initial_domain_of(target_domains)
    upn = str(onprem.get("userPrincipalName") or "")
    nick_onprem = onprem.get("mailNickname") or None
    state = suffix_state(upn.rpartition("@")[2], states) if "@" in upn else SuffixState.NOT_ADDED
    if previous is None:
        nickname = derive_mail_nickname(onprem)
        cloud, _ = _cloud_upn(upn, nickname, state, initial)
        return CloudState(nickname, cloud, upn, nick_onprem, state)
    nickname = previous.mail_nickname
    if nick_onprem and nick_onprem != previous.onprem_mail_nickname:
        nickname = nick_onprem
    if upn != previous.onprem_upn or state is not previous.suffix_state:
        cloud, _ = _cloud_upn(upn, nickname, state, initial)
    else:
        cloud = previous.upn
    return CloudState(nickname, cloud, upn, nick_onprem, state)


__all__ = ["CloudState", "SuffixRow", "SuffixState", "UserUpn", "derive_mail_nickname", "domain_states",
           "initial_domain_of", "readiness", "readiness_artifact", "readiness_for_config", "readiness_from_graph",
           "readiness_warnings", "suffix_state", "sync_identity", "upn_is_valid", "user_rows", "user_upn",
           "write_readiness_report"]
