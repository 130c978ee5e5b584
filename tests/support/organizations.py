"""A managed organization built through the public API only, with some of everything an admin
manages: users, a group with members and a group license, an admin role member, a verified
custom domain and a pending one, two subscriptions, a direct license, an audit log, a
partner account with members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.dns import DnsZone
from tests.support.group_licensing import add_members, assign_group, wait_processed
from tests.support.licensing import ESSENTIALS, PREMIUM, assign
from tests.support.partner import enroll
from tests.support.stories import PASSWORD, Stories, become_admin, publish_record


@dataclass
class Organization:
    """What a test needs to know of an organization: its ids, names and its admin's API client."""

    tenant_id: str
    display_name: str
    admin_email: str
    admin_id: str
    api: httpx.Client
    domain: str  # the sign-up domain, verified by the takeover
    initial_domain: str
    custom_domain: str  # added and verified through the API
    pending_domain: str  # added, never verified
    member_ids: list[str]
    member_emails: list[str]
    member_names: list[str]
    group_id: str  # with the members and a group license
    group_name: str
    spare_group_id: str  # empty: a second group, so that lists of groups have pages
    spare_group_name: str
    subscription_ids: list[str]
    sku_ids: list[str]
    purchase: dict[str, Any]  # the body of its second purchase
    purchase_key: str  # and that purchase's Idempotency-Key
    verification_tokens: list[str] = field(default_factory=list)
    partner_account_id: str = ""  # its partner account, enrolled by its admin (its Owner),
    # with member_ids[1] (developer) and the group (marketer) as members
    publisher_name: str = ""
    # An engagement open to its partner account only, in a program of its own, with its
    # admin as Power User and a pending access request of its first member
    # (`tests.support.engagements.open_engagements`).
    program_id: str = ""
    program_name: str = ""
    engagement_id: str = ""
    engagement_name: str = ""
    access_request_id: str = ""
    scim_token_id: str = ""  # its provisioning token (directory sync)
    scim_token: str = ""

    def user_ids(self) -> list[str]:
        return [self.admin_id, *self.member_ids]


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200,)), (
        response.request.method,
        str(response.request.url),
        response.status_code,
        response.text,
    )
    return response.json() if response.content else {}


def build_organization(
    stories: Stories,
    dns_zone: DnsZone,
    *,
    stem: str,
    admin_name: str,
    people: list[str],
    group_name: str,
) -> Organization:
    """`admin@<stem>.com` signs up and becomes the admin through the DNS wizard, then builds the
    organization through the API: `people` (display names) as users, one group of them, …"""
    domain = f"{stem}.com"
    admin_email = f"admin@{domain}"
    signed_up = stories.sign_up(admin_email, admin_name)
    api = stories.client_for(admin_email)
    organization = _ok(become_admin(api, dns_zone, quantity=10, key=f"{stem}-takeover"))
    initial = next(d["id"] for d in organization["domains"] if d["isInitial"])

    member_ids, member_emails = [], []
    for name in people:
        email = f"{name.split()[0].lower()}@{domain}"
        created = _ok(
            api.post(
                "/v1/users",
                json={
                    "userPrincipalName": email,
                    "displayName": name,
                    "usageLocation": "FR",
                    "password": PASSWORD,
                },
            ),
            201,
        )
        member_ids.append(created["id"])
        member_emails.append(email)

    group = _ok(api.post("/v1/groups", json={"displayName": group_name}), 201)
    spare_name = f"{group_name} Reserve"
    spare = _ok(api.post("/v1/groups", json={"displayName": spare_name}), 201)
    add_members(api, group["id"], member_ids)
    _ok(
        api.post("/v1/directoryRoles/UserAdministrator/members", json={"userId": member_ids[0]}),
        204,
    )

    custom_domain, pending_domain = f"{stem}.net", f"{stem}.org"
    _ok(api.post("/v1/domains", json={"id": custom_domain}), 201)
    records = _ok(api.get(f"/v1/domains/{custom_domain}/verificationDnsRecords"))
    publish_record(dns_zone, records)
    _ok(api.post(f"/v1/domains/{custom_domain}/verify"))
    _ok(api.post("/v1/domains", json={"id": pending_domain}), 201)
    pending_records = _ok(api.get(f"/v1/domains/{pending_domain}/verificationDnsRecords"))
    tokens = [r["text"] for r in records["value"] + pending_records["value"]]

    purchase = {"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 3}
    purchase_key = f"{stem}-{uuid.uuid4()}"
    _ok(
        api.post("/v1/subscriptions", json=purchase, headers={"Idempotency-Key": purchase_key}),
        201,
    )
    _ok(assign(api, member_ids[0], ESSENTIALS.sku_id))
    _ok(assign_group(api, group["id"], add=[(PREMIUM.sku_id, [])]), 202)
    wait_processed(api, group["id"])
    subscriptions = _ok(api.get("/v1/subscriptions"))["value"]
    publisher_name = f"{stem.capitalize()} Labs"
    partner_account = enroll(api, publisher_name)
    # Members beside its Owner: a user with one role, a group with another.
    _ok(
        api.post(
            f"/v1/partnerAccounts/{partner_account['id']}/members",
            json={"userIds": [member_ids[1]], "roles": ["developer"]},
        ),
        201,
    )
    _ok(
        api.post(
            f"/v1/partnerAccounts/{partner_account['id']}/members",
            json={"groupIds": [group["id"]], "roles": ["marketer"]},
        ),
        201,
    )
    scim_token = _ok(api.post("/v1/scimTokens", json={"displayName": f"{stem} IdP"}), 201)
    return Organization(
        tenant_id=signed_up["tenant"]["id"],
        display_name=organization["displayName"],
        admin_email=admin_email,
        admin_id=signed_up["user"]["id"],
        api=api,
        domain=domain,
        initial_domain=initial,
        custom_domain=custom_domain,
        pending_domain=pending_domain,
        member_ids=member_ids,
        member_emails=member_emails,
        member_names=list(people),
        group_id=group["id"],
        group_name=group_name,
        spare_group_id=spare["id"],
        spare_group_name=spare_name,
        subscription_ids=[s["id"] for s in subscriptions],
        sku_ids=[str(ESSENTIALS.sku_id), str(PREMIUM.sku_id)],
        purchase=purchase,
        purchase_key=purchase_key,
        verification_tokens=tokens,
        partner_account_id=partner_account["id"],
        publisher_name=publisher_name,
        scim_token_id=scim_token["id"],
        scim_token=scim_token["token"],
    )
