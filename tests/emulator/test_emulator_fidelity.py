"""Fidelity: msgraph-sdk's typed models parse every resource with nothing left over."""

from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.serialization import Parsable
from msgraph.generated.groups.item.group_item_request_builder import GroupItemRequestBuilder
from msgraph.generated.models.group import Group
from msgraph.generated.models.invitation import Invitation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from tenantsync.emulator.schema import GROUP_PROPERTIES, USER_PROPERTIES

from .conftest import graph_client, run
from .emulator_world import CONTOSO_TOKEN, FABRIKAM, _uid

SALES = _uid(0xC6, 1)
USER1 = _uid(0xC0, 1)
PENDING = _uid(0xC0, 100)


def leftovers(obj: object, path: str = "$") -> list[str]:
    """Paths of properties the SDK did not recognise (additional_data), '@odata.*' ignored."""
    out: list[str] = []
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            out += leftovers(item, f"{path}[{i}]")
    elif isinstance(obj, Parsable):
        extra = getattr(obj, "additional_data", None) or {}
        # annotations are not model fields: @odata.* and, on delta items, `members@delta`
        # (delta-query-overview: relationships come as "propertyName@delta" annotations)
        out += [f"{path}.{k}" for k in extra
                if not k.startswith("@odata.") and not k.endswith("@delta")]
        for name, value in vars(obj).items():
            if name not in ("additional_data", "backing_store"):
                out += leftovers(value, f"{path}.{name}")
    return out


def test_schema_lists_match_the_sdk_models():
    assert USER_PROPERTIES <= set(User().get_field_deserializers())
    assert GROUP_PROPERTIES <= set(Group().get_field_deserializers())


def test_every_resource_parses_without_leftovers(emu, http, sdk_warm):
    http().delete(f"/users/{_uid(0xC0, 5)}")                       # something in deletedItems

    async def body():
        c = graph_client(emu.url, CONTOSO_TOKEN)
        every_user_prop = RequestConfiguration(
            query_parameters=UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                select=sorted(USER_PROPERTIES)))
        every_group_prop = RequestConfiguration(
            query_parameters=GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(
                select=sorted(GROUP_PROPERTIES)))
        parsed = {
            "user": await c.users.by_user_id(USER1).get(),
            "user (every property)": await c.users.by_user_id(PENDING).get(every_user_prop),
            "users": await c.users.get(),
            "group": await c.groups.by_group_id(SALES).get(),
            "group (every property)": await c.groups.by_group_id(SALES).get(every_group_prop),
            "groups": await c.groups.get(),
            "members": await c.groups.by_group_id(_uid(0xC6, 2)).members.get(),
            "invitation": await c.invitations.post(Invitation(
                invited_user_email_address="fresh@northwind.com",
                invite_redirect_url="https://myapps.microsoft.com")),
            "domains": await c.domains.get(),
            "domain": await c.domains.by_domain_id("contoso.com").get(),
            "organization": await c.organization.get(),
            "authorizationPolicy": await c.policies.authorization_policy.get(),
            "partners": await c.policies.cross_tenant_access_policy.partners.get(),
            "partner": await c.policies.cross_tenant_access_policy.partners
            .by_cross_tenant_access_policy_configuration_partner_tenant_id(FABRIKAM).get(),
            "identitySynchronization": await c.policies.cross_tenant_access_policy.partners
            .by_cross_tenant_access_policy_configuration_partner_tenant_id(FABRIKAM)
            .identity_synchronization.get(),
            "phoneMethods": await c.users.by_user_id(USER1).authentication.phone_methods.get(),
            "phoneMethod": await c.users.by_user_id(USER1).authentication.phone_methods
            .by_phone_authentication_method_id("3179e48a-750b-4051-897c-87b9720928f7").get(),
            "deleted users": await c.directory.deleted_items.graph_user.get(),
            "deleted item": await c.directory.deleted_items.by_directory_object_id(
                _uid(0xC0, 5)).get(),
            "users delta": await c.users.delta.get(),
            "groups delta": await c.groups.delta.get(),
        }
        try:
            await c.users.by_user_id("nobody@contoso.com").get()
        except ODataError as exc:
            parsed["error"] = exc.error
        return parsed

    parsed = run(body)
    problems = {name: leftovers(obj) for name, obj in parsed.items()}
    assert {k: v for k, v in problems.items() if v} == {}
    assert isinstance(parsed["members"].value[0], Group)
    assert isinstance(parsed["deleted item"], User)
    assert parsed["deleted users"].value[0].deleted_date_time is not None
    assert parsed["organization"].value[0].assigned_plans[0].service_plan_id
    assert parsed["phoneMethods"].value[0].sms_sign_in_state.value == "ready"
    assert parsed["error"].inner_error.request_id
    assert parsed["user (every property)"].external_user_state == "PendingAcceptance"


@pytest.mark.parametrize("path", ["/users", "/groups", "/users/delta", "/domains",
                                  "/organization", "/policies/authorizationPolicy"])
def test_every_response_has_odata_context(emu, http, path):
    assert http().get(path).json()["@odata.context"].startswith(emu.url + "/$metadata#")
