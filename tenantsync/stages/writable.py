"""Mapped attributes Microsoft Graph documents as not written through Graph: never sent.

Source: the user resource page (Microsoft Graph v1.0), Properties table. ``showInAddressList``:
"Do not use in Microsoft Graph. Manage this property through the Microsoft 365 admin center
instead."; ``isResourceAccount``: "Do not use - reserved for future use."; ``proxyAddresses``:
"Read-only in Microsoft Graph"; the others are marked "Read-only.". A mapping that targets one of
them stays in the configuration (CTS writes some of them inside Entra) but the cycle drops it:
never compared, never sent, so no PATCH fails on it and no user is updated again and again. The
provisioning log says so in one warning row per cycle (``notice``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..model import Action, Step

# property -> the user resource page's words
NOT_WRITABLE: dict[str, str] = {
    "showInAddressList": "Do not use in Microsoft Graph. Manage this property through the "
                         "Microsoft 365 admin center instead.",
    "isResourceAccount": "Do not use \u2013 reserved for future use.",
    "proxyAddresses": "Read-only in Microsoft Graph; you can update this property only through "
                      "the Microsoft 365 admin center.",
    **{name: "Read-only." for name in (
        "id", "createdDateTime", "creationType", "assignedPlans", "provisionedPlans", "imAddresses",
        "licenseAssignmentStates", "legalAgeGroupClassification", "securityIdentifier",
        "signInActivity", "signInSessionsValidFromDateTime", "refreshTokensValidFromDateTime",
        "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesLastSyncDateTime",
        "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
        "onPremisesUserPrincipalName")},
}
NOTICE_CODE = "AttributeNotWritableInGraph"


def split_writable(mappings: Iterable[Any]) -> tuple[list[Any], list[str]]:
    """(the mappings to apply, the targets dropped because Graph does not take them)."""
    kept: list[Any] = []
    dropped: list[str] = []
    for m in mappings:
        if m.target in NOT_WRITABLE:
            dropped.append(m.target)
        else:
            kept.append(m)
    return kept, dropped


def notice(config: str, targets: Sequence[str]) -> Action:
    """The provisioning-log row that says which mapped attributes were not written, and why."""
    why = "; ".join(f"{name}: \"{NOT_WRITABLE[name]}\"" for name in targets)
    reason = (f"Not written to the target: {', '.join(targets)}. Microsoft Graph's user resource "
              f"page says {why} The mapping is kept in the configuration and skipped for every user "
              "of this cycle.")
    step = Step("AttributeMapping", "processing", "warning", reason,
                {"Attributes": list(targets), "Source": "user resource type (Microsoft Graph v1.0)"})
    return Action("other", "", None, display_name=f"Attribute mappings of {config}", reason=reason,
                  status="warning", error_code=NOTICE_CODE, steps=[step])


__all__ = ["NOTICE_CODE", "NOT_WRITABLE", "notice", "split_writable"]
