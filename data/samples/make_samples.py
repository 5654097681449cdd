"""Builds data/samples/tenants.json (the emulator's sample tenants) and data/samples/README.md.

    python data/samples/make_samples.py            # rewrite both files
    python data/samples/make_samples.py --check    # exit 1 if the committed files are stale

Three tenants of one multi-tenant organisation: Contoso EMEA and Contoso US (sources) feed
Contoso HQ (target). Most users come from bench/generate.py; the objects that tests and the demo
talk about are added here by hand, with pinned ids (the constants below), so that they keep their
ids whatever happens to the generator. The output is deterministic: run it twice, get the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import LOCATIONS, TenantGenerator, dumps, make_tenant, partner, tenant_shell  # noqa: E402

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "tenants.json"
README = HERE / "README.md"

# Tenants ---------------------------------------------------------------------------------------
EMEA_TENANT = "2cee517d-601a-44f9-82ff-f26697be201f"
US_TENANT = "9e91c4fa-826c-4e8e-b299-2002746f3c6c"
HQ_TENANT = "7242482c-0038-4818-b3af-70b2766b9f27"
EMEA_DOMAIN, EMEA_INITIAL = "emea.contoso.com", "contosoemea.onmicrosoft.com"
US_DOMAIN, US_INITIAL = "us.contoso.com", "contosous.onmicrosoft.com"
HQ_DOMAIN, HQ_UNVERIFIED, HQ_INITIAL = "contoso.com", "notverified.contoso.com", "contosohq.onmicrosoft.com"
SYNC_GROUP_NAME = "CTS - HQ sync"

# Groups ----------------------------------------------------------------------------------------
EMEA_SYNC_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"     # assigned to emea-to-hq
US_SYNC_GROUP = "5f811d21-c114-45ba-8808-91fd515f6989"       # assigned to us-to-hq
EMEA_CONTRACTORS_GROUP = "2e87231d-7bf8-4bfc-ac99-5c38c1aeb3cc"  # nested in EMEA's sync group
US_INTERNS_GROUP = "16c552d7-4910-44ba-a789-4ddd48526988"    # nested in US's sync group
HQ_ADMINS_GROUP = "c3f9d58a-4528-4762-9756-35c13db98f45"

# Users -----------------------------------------------------------------------------------------
EMEA_RENAMED_USER = "2c61be39-a49f-4975-a086-bbe7b399a465"   # Zoë Schmidt, formerly Zoë Müller
EMEA_SMS_USER = "5aa7b012-d3c0-4688-80e3-f9389efcd284"       # Åsa Lindqvist, smsSignInState ready
EMEA_DISABLED_USER = "cafb8ab6-5688-4d63-b5d1-4eab6c1c582e"  # Bjørn Haugen, accountEnabled false
EMEA_GUEST = "4a3777af-6ca2-4702-b3a1-e497157708f7"          # Lena Fischer (fabrikam.com), a guest
EMEA_SERVICE_ACCOUNT = "d43b950b-b3b2-41f9-9aca-f42173d76cf0"  # UPN on the initial domain: filtered out
EMEA_CONTRACTOR = "c8b43df2-1635-4723-802f-fe941d9aa529"     # Łukasz Wiśniewski, nested-group member only
US_GUEST = "e4f9d017-214b-4608-8020-ef66ddce5e88"            # Kenji Watanabe (tailspintoys.com), a guest
US_PENDING_SOURCE_USER = "50de6959-ade1-47c0-8ffb-090c27324a56"  # Renée Jackson
US_INTERN = "be520f9e-6e6f-4d6e-aca7-ff4551469b47"           # José Hernández, nested-group member only
HQ_PENDING_USER = "28c3823a-0966-4f71-afff-858b141b0bea"     # B2B of Zoë, invited by hand, stale UPN
HQ_PENDING_USER_2 = "bc05e76e-e638-4e3b-9302-25593f9bf341"   # B2B of Renée, invited by hand, UPN current
HQ_ADMIN = "28914fbb-1d75-4396-ae05-e8b58fa98d76"
HQ_MEGAN = "8de3dd46-cf70-40bf-887a-70964a359694"
HQ_ADELE = "62eb2c0a-8e8d-4edc-83a1-c8e08bf5147f"
HQ_ALEX = "fc07e690-dfd7-42ad-a114-b665b4b726db"
HQ_PARTNER_GUEST = "a797722d-16bb-40bd-82be-0b77bb545296"    # fabrikam.com guest, Accepted
HQ_PARTNER_PENDING = "707cae82-7325-46be-81e6-a83afe5d4aaa"  # litwareinc.com guest, PendingAcceptance

# The scoping filters of data/configs/*.yaml, evaluated below to document the expected outcome.
SCOPING_FILTER = {EMEA_TENANT: r".*@emea\.contoso\.com$", US_TENANT: r".*@us\.contoso\.com$"}


def _group(tenant: dict[str, Any], group_id: str) -> dict[str, Any]:
    return next(g for g in tenant["groups"] if g["id"] == group_id)


def _join(tenant: dict[str, Any], user: dict[str, Any], *group_ids: str, department: bool = True) -> None:
    """Add a hand-made user to the tenant, to the given groups and to its department's group."""
    tenant["users"].append(user)
    for gid in group_ids:
        _group(tenant, gid)["members"].append(user["id"])
    if department and user.get("department"):
        for g in tenant["groups"]:
            if g["displayName"] == f"Dept - {user['department']}":
                g["members"].append(user["id"])


def _source(*, tenant_id: str, name: str, domain: str, initial: str, token: str, region: str, n_users: int,
            sync_group: str, prefix: str) -> tuple[dict[str, Any], TenantGenerator]:
    tenant = make_tenant(
        tenant_id=tenant_id, display_name=name, default_domain=initial, verified_domains=[domain],
        n_users=n_users, n_groups=13,      # the sync group + one group per department, no team groups
        seed=f"samples:{region}", token=token, region=region, company_name=name, employee_id_prefix=prefix,
        sync_group_name=SYNC_GROUP_NAME, sync_group_id=sync_group, sync_group_share=0.9,
        disabled_ratio=0.0, sms_ready_ratio=0.0,            # the special cases below are the only ones
        partners=[partner(HQ_TENANT, display_name="Contoso HQ", outbound=True)])
    gen = TenantGenerator(seed=f"samples:{region}:special", domains=[domain], default_domain=initial,
                          region=region, company_name=name, employee_id_prefix=f"{prefix}9",
                          taken_upns=(u["userPrincipalName"] for u in tenant["users"]))
    return tenant, gen


def build_emea() -> dict[str, Any]:
    tenant, gen = _source(tenant_id=EMEA_TENANT, name="Contoso EMEA", domain=EMEA_DOMAIN, initial=EMEA_INITIAL,
                          token="emea-token", region="emea", n_users=120, sync_group=EMEA_SYNC_GROUP, prefix="EM")
    # Zoë married in 2022: EMEA renamed her UPN but kept her mailbox address. HQ still holds the B2B
    # user invited by hand in 2019 from that address, never redeemed (HQ_PENDING_USER).
    _join(tenant, gen.member(id=EMEA_RENAMED_USER, given="Zoë", surname="Schmidt", location=LOCATIONS["Berlin"],
                             department="Marketing", userPrincipalName=f"zoe.schmidt@{EMEA_DOMAIN}",
                             mail=f"zoe.muller@{EMEA_DOMAIN}", jobTitle="Brand Manager",
                             createdDateTime="2017-06-19T09:30:00Z"), EMEA_SYNC_GROUP)
    _join(tenant, gen.member(id=EMEA_SMS_USER, given="Åsa", surname="Lindqvist", location=LOCATIONS["Stockholm"],
                             department="Sales", sms_ready=True), EMEA_SYNC_GROUP)
    _join(tenant, gen.member(id=EMEA_DISABLED_USER, given="Bjørn", surname="Haugen", location=LOCATIONS["Oslo"],
                             department="Operations", enabled=False), EMEA_SYNC_GROUP)
    _join(tenant, gen.guest(id=EMEA_GUEST, given="Lena", surname="Fischer", home_domain="fabrikam.com",
                            state="Accepted"), EMEA_SYNC_GROUP)
    _join(tenant, gen.member(id=EMEA_SERVICE_ACCOUNT, given="Print", surname="Service",
                             userPrincipalName=f"svc-print@{EMEA_INITIAL}", mail=None,
                             displayName="SVC Print Service", location=LOCATIONS["London"], department="IT",
                             jobTitle="Service account", employeeId=None, employeeType=None, mobilePhone=None,
                             businessPhones=[]), EMEA_SYNC_GROUP)
    contractor = gen.member(id=EMEA_CONTRACTOR, given="Łukasz", surname="Wiśniewski", location=LOCATIONS["Warszawa"],
                            department="Engineering", employeeType="Contractor", jobTitle="DevOps Engineer")
    # Members of the nested group: Łukasz and three generated users who are not direct members of
    # the sync group, so that expanding the nested group would change who is in scope.
    direct = set(_group(tenant, EMEA_SYNC_GROUP)["members"])
    outside = [u["id"] for u in tenant["users"] if u["userType"] == "Member" and u["id"] not in direct][:3]
    tenant["groups"].append(gen.group("EMEA Contractors", outside, id=EMEA_CONTRACTORS_GROUP,
                                      description="External contractors; nested in CTS - HQ sync"))
    _join(tenant, contractor, EMEA_CONTRACTORS_GROUP)
    _group(tenant, EMEA_SYNC_GROUP)["members"].append(EMEA_CONTRACTORS_GROUP)
    return tenant


def build_us() -> dict[str, Any]:
    tenant, gen = _source(tenant_id=US_TENANT, name="Contoso US", domain=US_DOMAIN, initial=US_INITIAL,
                          token="us-token", region="us", n_users=110, sync_group=US_SYNC_GROUP, prefix="US")
    _join(tenant, gen.member(id=US_PENDING_SOURCE_USER, given="Renée", surname="Jackson",
                             location=LOCATIONS["Seattle"], department="Finance",
                             createdDateTime="2018-02-05T16:45:00Z"), US_SYNC_GROUP)
    _join(tenant, gen.guest(id=US_GUEST, given="Kenji", surname="Watanabe", home_domain="tailspintoys.com",
                            state="Accepted"), US_SYNC_GROUP)
    intern = gen.member(id=US_INTERN, given="José", surname="Hernández", location=LOCATIONS["Austin"],
                        department="Engineering", employeeType="Intern", jobTitle="Software Engineer Intern")
    direct = set(_group(tenant, US_SYNC_GROUP)["members"])
    outside = [u["id"] for u in tenant["users"] if u["userType"] == "Member" and u["id"] not in direct][:2]
    tenant["groups"].append(gen.group("US Interns", outside, id=US_INTERNS_GROUP,
                                      description="Summer interns; nested in CTS - HQ sync"))
    _join(tenant, intern, US_INTERNS_GROUP)
    _group(tenant, US_SYNC_GROUP)["members"].append(US_INTERNS_GROUP)
    return tenant


def build_hq(emea: dict[str, Any], us: dict[str, Any]) -> dict[str, Any]:
    tenant = tenant_shell(
        tenant_id=HQ_TENANT, display_name="Contoso HQ", default_domain=HQ_INITIAL, verified_domains=[HQ_DOMAIN],
        unverified_domains=[HQ_UNVERIFIED], token="hq-token",
        partners=[partner(EMEA_TENANT, display_name="Contoso EMEA", inbound=True, sync_inbound=True),
                  partner(US_TENANT, display_name="Contoso US", inbound=True, sync_inbound=True)])
    gen = TenantGenerator(seed="samples:hq", domains=[HQ_DOMAIN], default_domain=HQ_INITIAL, region="us",
                          company_name="Contoso", employee_id_prefix="HQ")
    redmond = LOCATIONS["Redmond"]
    admins = [
        gen.member(id=HQ_ADMIN, given="Contoso", surname="Admin", displayName="Contoso HQ Admin",
                   userPrincipalName=f"admin@{HQ_INITIAL}", mail=None, location=redmond, department="IT",
                   jobTitle="Global Administrator", employeeId=None, mobilePhone=None, businessPhones=[]),
        gen.member(id=HQ_MEGAN, given="Megan", surname="Bowen", location=redmond, department="IT",
                   jobTitle="Identity Administrator"),
        gen.member(id=HQ_ADELE, given="Adele", surname="Vance", location=redmond, department="Finance",
                   jobTitle="Controller"),
        gen.member(id=HQ_ALEX, given="Alex", surname="Wilber", location=redmond, department="Human Resources",
                   jobTitle="HR Manager"),
    ]
    zoe = next(u for u in emea["users"] if u["id"] == EMEA_RENAMED_USER)
    renee = next(u for u in us["users"] if u["id"] == US_PENDING_SOURCE_USER)
    pending = [
        # Invited by hand in 2019 from Zoë's mail address, when her UPN was zoe.muller@...; never
        # redeemed. Its UPN still carries the old name: the repair target of `repair-upn`.
        gen.guest(id=HQ_PENDING_USER, given="Zoë", surname="Müller", mail=zoe["mail"], state="PendingAcceptance",
                  userPrincipalName=f"zoe.muller_{EMEA_DOMAIN}#EXT#@{HQ_INITIAL}",
                  createdDateTime="2019-03-12T10:15:00Z", externalUserStateChangeDateTime="2019-03-12T10:15:00Z"),
        # Invited by hand from Renée's address (= her UPN); never redeemed; UPN already right.
        gen.guest(id=HQ_PENDING_USER_2, given=renee["givenName"], surname=renee["surname"], mail=renee["mail"],
                  state="PendingAcceptance", userPrincipalName=f"renee.jackson_{US_DOMAIN}#EXT#@{HQ_INITIAL}",
                  createdDateTime="2021-11-08T14:02:00Z", externalUserStateChangeDateTime="2021-11-08T14:02:00Z"),
        gen.guest(id=HQ_PARTNER_GUEST, given="Ingrid", surname="Ødegård", home_domain="fabrikam.com", state="Accepted"),
        gen.guest(id=HQ_PARTNER_PENDING, given="Maëlle", surname="Lefèvre", home_domain="litwareinc.com",
                  state="PendingAcceptance"),
    ]
    tenant["users"] = admins + pending
    tenant["groups"] = [
        gen.group("HQ Admins", [HQ_ADMIN, HQ_MEGAN], id=HQ_ADMINS_GROUP, description="Tenant administrators"),
        gen.group("All HQ Staff", [u["id"] for u in admins]),
    ]
    return tenant


def build() -> dict[str, Any]:
    emea, us = build_emea(), build_us()
    fixture = {"tenants": [emea, us, build_hq(emea, us)]}
    for tenant in fixture["tenants"]:
        upns = [u["userPrincipalName"].lower() for u in tenant["users"]]
        ids = [o["id"] for o in tenant["users"] + tenant["groups"]]
        assert len(set(upns)) == len(upns) and len(set(ids)) == len(ids), tenant["displayName"]
    return fixture


# Documentation ---------------------------------------------------------------------------------

def expected_scope(tenant: dict[str, Any], group_id: str) -> dict[str, list[dict[str, Any]]]:
    """Who the sample configuration (assigned group + UPN filter) provisions, and who it skips, why."""
    by_id = {u["id"]: u for u in tenant["users"]}
    direct = [by_id[m] for m in _group(tenant, group_id)["members"] if m in by_id]
    pattern = re.compile(SCOPING_FILTER[tenant["id"]])
    out: dict[str, list[dict[str, Any]]] = {"provisioned": [], "guest (not an internal member)": [],
                                            "scoping filter false": [], "disabled": [], "SMS sign-in ready": []}
    for u in direct:
        if u["userType"] != "Member":
            out["guest (not an internal member)"].append(u)
        elif not pattern.search(u["userPrincipalName"]):
            out["scoping filter false"].append(u)
        elif not u["accountEnabled"]:
            out["disabled"].append(u)
        elif u.get("smsSignInState") == "ready":
            out["SMS sign-in ready"].append(u)
        else:
            out["provisioned"].append(u)
    return out


def readme(fixture: dict[str, Any]) -> str:
    emea, us, hq = fixture["tenants"]
    users = {u["id"]: (t["displayName"], u) for t in fixture["tenants"] for u in t["users"]}
    groups = {g["id"]: (t["displayName"], g) for t in fixture["tenants"] for g in t["groups"]}

    def urow(uid: str, why: str) -> str:
        tname, u = users[uid]
        return f"| {u['displayName']} | {tname} | `{uid}` | `{u['userPrincipalName']}` | {why} |"

    def grow(gid: str, why: str) -> str:
        tname, g = groups[gid]
        return f"| {g['displayName']} | {tname} | `{gid}` | {why} |"

    def counts(t: dict[str, Any]) -> str:
        n_members = sum(u["userType"] == "Member" for u in t["users"])
        return (f"| {t['displayName']} | `{t['id']}` | `{t['defaultDomain']}` | "
                f"{', '.join(d['id'] + ('' if d['isVerified'] else ' (unverified)') for d in t['domains'])} | "
                f"`{t['tokens'][0]}` | {len(t['users'])} ({n_members} members) | {len(t['groups'])} |")

    def outcome(t: dict[str, Any], gid: str, config: str) -> str:
        lines = [f"`{config}` (direct user members of `{SYNC_GROUP_NAME}`: "
                 f"{sum(len(v) for v in expected_scope(t, gid).values())}):", ""]
        for reason, us_ in expected_scope(t, gid).items():
            names = "" if reason == "provisioned" or not us_ else " (" + ", ".join(u["displayName"] for u in us_) + ")"
            lines.append(f"- {reason}: {len(us_)}{names}")
        return "\n".join(lines)

    zoe = users[EMEA_RENAMED_USER][1]
    zoe_why = (f"In scope. Renamed since HQ invited her: UPN `{zoe['userPrincipalName']}`, mail `{zoe['mail']}` "
               "(mail differs from UPN, as in the doc's 'UPN property does not update' symptom).")
    return f"""# Sample tenants

`tenants.json` is the emulator fixture (docs/contracts.md, "Emulator fixture") of a multi-tenant
organisation: **Contoso EMEA** and **Contoso US** feed **Contoso HQ** by cross-tenant
synchronization (`data/configs/emea-to-hq.yaml`, `data/configs/us-to-hq.yaml`).

Generated, do not edit by hand: `python data/samples/make_samples.py` rewrites `tenants.json` and
this page (`--check` tells whether they are current). Most users come from `bench/generate.py`;
the objects below are made by hand in `make_samples.py`, with pinned ids that do not move when the
generator changes.

## Tenants

| Tenant | id | initial domain | custom domains | token | users | groups |
|---|---|---|---|---|---|---|
{counts(emea)}
{counts(us)}
{counts(hq)}

Tokens are emulator tokens, not secrets (`EMEA_TOKEN=emea-token US_TOKEN=us-token HQ_TOKEN=hq-token`).
All three are `premium` with `allowInvitesFrom: everyone`. Cross-tenant access: EMEA and US have a
partner entry for HQ with automatic redemption **outbound**; HQ has partner entries for EMEA and
US with automatic redemption **inbound** and `identitySynchronization.userSyncInbound.isSyncAllowed:
true`. Nothing else is allowed (EMEA and US do not accept sync from anyone).

## Interesting objects

| Object | Tenant | id | userPrincipalName | Why it is here |
|---|---|---|---|---|
{urow(EMEA_RENAMED_USER, zoe_why)}
{urow(HQ_PENDING_USER, "HQ's B2B user for Zoë, invited by hand in 2019 from her mail, never redeemed: userType Guest, externalUserState PendingAcceptance, mail = Zoë's mail, UPN from her old name. The UPN her current source UPN implies: `zoe.schmidt_emea.contoso.com#EXT#@contosohq.onmicrosoft.com`.")}
{urow(US_PENDING_SOURCE_USER, "In scope; mail = UPN. HQ holds a pending B2B user for her whose UPN is already right.")}
{urow(HQ_PENDING_USER_2, "PendingAcceptance B2B user for Renée; UPN needs no repair.")}
{urow(EMEA_SMS_USER, "Member of the assigned group with smsSignInState `ready`: skipped by CTS (`Filter external users.alternativeSecurityIds EQUALS 'None'`).")}
{urow(EMEA_DISABLED_USER, "Member of the assigned group with accountEnabled false: evaluated, not provisioned.")}
{urow(EMEA_GUEST, "A B2B guest (Accepted, #EXT# UPN) of EMEA in the assigned group: never synced.")}
{urow(US_GUEST, "A B2B guest (Accepted) of US in the assigned group: never synced.")}
{urow(EMEA_SERVICE_ACCOUNT, "Internal member in the assigned group whose UPN is on the initial domain: the sample scoping filter rejects it.")}
{urow(EMEA_CONTRACTOR, "Member of `EMEA Contractors` only (nested in the assigned group): out of scope.")}
{urow(US_INTERN, "Member of `US Interns` only (nested in the assigned group): out of scope.")}
{urow(HQ_ADMIN, "HQ internal member (admin): never touched.")}
{urow(HQ_MEGAN, "HQ internal member (admin): never touched.")}
{urow(HQ_ADELE, "HQ internal member: never touched.")}
{urow(HQ_ALEX, "HQ internal member: never touched.")}
{urow(HQ_PARTNER_GUEST, "HQ guest from a partner company (Accepted): never touched.")}
{urow(HQ_PARTNER_PENDING, "HQ guest from a partner company, PendingAcceptance, with no source user: listed by the pending-acceptance report, never changed.")}

| Group | Tenant | id | Why it is here |
|---|---|---|---|
{grow(EMEA_SYNC_GROUP, "Assigned to `emea-to-hq`; about 90 % of EMEA's generated members are direct members, plus the special users above and the nested group.")}
{grow(US_SYNC_GROUP, "Assigned to `us-to-hq`; same shape.")}
{grow(EMEA_CONTRACTORS_GROUP, "Nested group, member of EMEA's `CTS - HQ sync`; its members are not direct members: assignment does not cascade.")}
{grow(US_INTERNS_GROUP, "Nested group, member of US's `CTS - HQ sync`.")}
{grow(HQ_ADMINS_GROUP, "HQ's admins.")}

Each source also has one `Dept - <department>` group per department (direct members only).
Names come from international lists with their accents (Zoë, José, Åsa, Bjørn, Łukasz, Müller,
Ødegård, Yılmaz...); UPNs and mail addresses use the ASCII folding (`bjorn.odegard@...`).

## Expected outcome of an initial cycle (sample configurations)

{outcome(emea, EMEA_SYNC_GROUP, "emea-to-hq")}

{outcome(us, US_SYNC_GROUP, "us-to-hq")}

Each user is counted under the first reason that applies, in the order above. Members of the
nested groups are not direct members and are not counted.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare with the committed files")
    args = ap.parse_args(argv)
    fixture = build()
    outputs = {FIXTURE: dumps(fixture, pretty=True), README: readme(fixture)}
    if args.check:
        stale = [p.name for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            print(f"stale: {', '.join(stale)} (run python data/samples/make_samples.py)", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {FIXTURE.relative_to(ROOT)} ({sum(len(t['users']) for t in fixture['tenants'])} users) "
          f"and {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
