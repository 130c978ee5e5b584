"""Tenant isolation: one organization's Global Administrator, aiming every API route and every
admin page at another organization's ids, learns nothing of it and changes nothing of it.

The walk is driven by the app's own route table (`/openapi.json` for the API, the routes left
out of it for the pages), so a route added later is walked without touching this file. What
each request carries comes from tables keyed by name: a path parameter's values
(`path_values`), a body property's (`body_value`), a query parameter's (`query_values`,
`page_query_values`), a form field's (`form_values`; the other fields as the walker's own
page fills them). A new path parameter name fails the walk until it is given the other
organization's values here. Routes that name no organization's data at all are listed,
each with its reason, in `NO_TENANT_DATA` / `PAGES_WITHOUT_TENANT_DATA`.

A request fails the walk when
- it names the other organization's object (in its path, or its body) and succeeds (2xx for
  the API, anything below 400 for a page), unless `ANSWERS_2XX_BY_DESIGN` says why;
- its answer, whatever its status, carries anything of the other organization (ids, names,
  addresses, domain names, verification tokens) that the request did not send itself;
- and the whole walk fails if the other organization's state (read through its own admin's
  token before and after) changed in any way, or mail went to its people.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from tests.support.engagements import open_engagements
from tests.support.licensing import PREMIUM, buy, global_admin
from tests.support.organizations import Organization, build_organization
from tests.support.routes import (
    MISSING,
    ExampleMaker,
    Form,
    Operation,
    fill_path,
    forms_of,
    operations,
    page_routes,
    path_parameters,
)
from tests.test_web_admin_takeover import sign_in
from tests.test_web_pages import csrf_token

# API routes that read or change no organization's data: the caller's own credentials, the
# public sign-up, realm discovery and the server's own health and keys.
NO_TENANT_DATA = {
    ("GET", "/healthz"): "server health",
    ("GET", "/v1/ping"): "liveness",
    ("GET", "/.well-known/jwks.json"): "the server's public keys",
    ("POST", "/v1/signup"): "public: starts a sign-up of an address",
    ("POST", "/v1/signup/{signup_id}/resend"): "public: the sign-up id is the person's secret",
    ("POST", "/v1/signup/{signup_id}/verify"): "public: the sign-up id is the person's secret",
    ("GET", "/v1/userRealm/{email}"): "public by design: how an address signs in (Entra's)",
    ("POST", "/v1/auth/token"): "signs the caller in",
    ("POST", "/v1/auth/revoke"): "ends the caller's own session",
    ("GET", "/v1/partnerAccountApprovals/{approval_token}"): (
        "public: the token is the approver's secret, from their email"
    ),
    ("POST", "/v1/partnerAccountApprovals/{approval_token}/confirm"): (
        "public: the token is the approver's secret, from their email"
    ),
    ("POST", "/v1/partnerAccountApprovals/{approval_token}/reject"): (
        "public: the token is the approver's secret, from their email"
    ),
}

# Pages outside /admin: public, or about the signed-in person only.
PAGES_WITHOUT_TENANT_DATA = {
    ("GET", "/lang/{code}"): "sets the language cookie",
    ("GET", "/signup/{signup_id}"): "public: the sign-up id is the person's secret",
    ("POST", "/signup"): "public sign-up",
    ("POST", "/signup/{signup_id}"): "public sign-up",
    ("POST", "/signup/{signup_id}/resend"): "public sign-up",
    ("POST", "/signin"): "signs the caller in",
    ("POST", "/signout"): "ends the caller's own session",
    ("POST", "/account/password"): "changes the caller's own password",
    ("POST", "/account/tenant"): (
        "moves the caller's own session to an organization they may act in; another "
        "organization's id is refused (tests/test_tenant_switching.py)"
    ),
    ("GET", "/invitations/redeem/{token}"): "public: the token is the invited person's secret",
    ("POST", "/invitations/redeem/{token}/accept"): (
        "the token is the invited person's secret; only the invited address's account accepts"
    ),
    ("POST", "/invitations/redeem/{token}/signin"): (
        "the token is the invited person's secret; signs in as the invited address only"
    ),
    ("POST", "/invitations/redeem/{token}/code"): (
        "the token is the invited person's secret; mails the invited address only"
    ),
    ("POST", "/invitations/redeem/{token}/verify"): (
        "the token is the invited person's secret, the code proves the invited address"
    ),
    ("GET", "/dev/mailbox"): "development mailbox: every message, to anyone (off in production)",
    ("GET", "/partner/approvals/{approval_token}"): (
        "public: the token is the approver's secret, from their email"
    ),
    ("POST", "/partner/approvals/{approval_token}"): (
        "public: the token is the approver's secret, from their email"
    ),
}

# Pages walked like the admin center's besides /admin: the partner program's (the walker's
# own partner account) and the operators' (the walker is no operator: every one is a 404,
# for its own ids as for the other organization's).
WALKED_PREFIXES = ("/admin", "/partner", "/operator/")
OPERATOR_PAGES = "/operator/"

# Requests naming the other organization that succeed on purpose, and what must hold then.
ANSWERS_2XX_BY_DESIGN: dict[tuple[str, str], tuple[str, Callable[[httpx.Response], bool]]] = {
    ("POST", "/v1/domains"): (
        "any organization may add a name, unverified (Entra's rule); only one verifies it",
        lambda answer: answer.json()["isVerified"] is False,
    ),
    ("POST", "/v1/users/import"): (
        "answers 200 with each row's outcome: rows naming the other organization fail",
        lambda answer: answer.json()["created"] == 0,
    ),
    ("POST", "/admin/users/import"): (
        "answers 200 with each row's outcome: rows naming the other organization fail",
        lambda answer: 'data-test="created">0<' in answer.text,
    ),
    ("POST", "/admin/domains"): (
        "any organization may add a name, unverified (Entra's rule); only one verifies it",
        lambda answer: answer.status_code == 303,
    ),
}

# Findings of this walk that another change fixes: left out of the walk's verdict, each has
# an xfail test of its own (strict: the fix makes it fail until its entry goes). None now.
KNOWN_FINDINGS: dict[tuple[str, str], str] = {}


def path_values(organization: Organization) -> dict[str, list[str]]:
    """Each path parameter's values for objects of `organization` (the first is its default)."""
    users = [
        organization.member_ids[1],  # a member with a group license
        organization.member_emails[0],  # a User Administrator, by sign-in address
        organization.admin_id,
    ]
    return {
        "user_id": users,
        "user_ref": users,
        "group_id": [organization.group_id, organization.spare_group_id],
        "name": [
            organization.custom_domain,
            organization.pending_domain,
            organization.domain,
            organization.initial_domain,
        ],
        "subscription_id": organization.subscription_ids,
        "subscribed_sku_id": [f"{organization.tenant_id}_{sku}" for sku in organization.sku_ids],
        # Role ids are Entra's role template ids, the same in every organization.
        "role_id": ["UserAdministrator"],
        "partner_account_id": [organization.partner_account_id],
        # A partner account's members, by user id, group id or address; its linked tenant.
        "member_id": [organization.member_ids[1], organization.group_id, organization.admin_email],
        "tenant_id": [organization.tenant_id],
        "engagement_id": [organization.engagement_id],
        "program_id": [organization.program_id],
        "access_request_id": [organization.access_request_id],
        "token_id": [organization.scim_token_id],
    }


def scoped_values(organization: Organization) -> set[str]:
    """Values that name an object of `organization` and of no other."""
    return {
        organization.tenant_id,
        *organization.user_ids(),
        organization.admin_email,
        *organization.member_emails,
        organization.group_id,
        organization.spare_group_id,
        *organization.subscription_ids,
        *(f"{organization.tenant_id}_{sku}" for sku in organization.sku_ids),
        organization.domain,
        organization.custom_domain,
        organization.pending_domain,
        organization.initial_domain,
        organization.partner_account_id,
        organization.engagement_id,
        organization.program_id,
        organization.access_request_id,
        organization.scim_token_id,
    }


def markers(organization: Organization) -> set[str]:
    """What must never reach another organization: its ids, names, addresses and tokens."""
    return {
        value.lower()
        for value in (
            *scoped_values(organization),
            organization.display_name,
            *organization.member_names,
            organization.group_name,
            organization.spare_group_name,
            organization.publisher_name,
            organization.engagement_name,
            organization.program_name,
            organization.scim_token,
            *(token.split("=", 1)[1] for token in organization.verification_tokens),
        )
    }


def body_value(other: Organization) -> Callable[[str, dict[str, Any]], Any]:
    """A request body property's value, aimed at `other` where the property names something."""
    values: dict[str, Any] = {
        "userId": other.member_ids[0],
        "userIds": [other.member_ids[0], other.admin_id],
        "@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{other.member_ids[1]}",
        "userPrincipalName": f"walk@{other.custom_domain}",
        "id": other.custom_domain,  # a domain's name when adding one
        "displayName": "Walk",
        "addLicenses": [{"skuId": other.sku_ids[1], "disabledPlans": []}],
        "removeLicenses": [other.sku_ids[0]],
        "skuId": other.sku_ids[0],
        "tenantId": other.tenant_id,
        "groupIds": [other.group_id],
        "programId": other.program_id,
        "partnerAccountIds": [other.partner_account_id],
        # The other organization's last purchase, replayed with its Idempotency-Key.
        "skuPartNumber": other.purchase["skuPartNumber"],
        "quantity": other.purchase["quantity"],
    }

    def value_for(name: str, schema: dict[str, Any]) -> Any:
        return values.get(name, MISSING)

    return value_for


def import_file(other: Organization) -> bytes:
    """A users CSV naming the other organization's people and domain."""
    return (
        f"userPrincipalName,displayName\n{other.member_emails[0]},Walk\n"
        f"walk@{other.custom_domain},Walk\n"
    ).encode()


def next_skip_token(answer: httpx.Response) -> str | None:
    link = answer.json().get("@odata.nextLink")
    return parse_qs(urlsplit(link).query)["$skiptoken"][0] if link else None


def query_values(other: Organization, skip_tokens: dict[str, str]) -> dict[str, list[str]]:
    """Query parameters that search for the other organization's data."""
    return {
        "$search": [f'"displayName:{other.member_names[0].split()[0]}"', other.group_name],
        "$filter": [
            f"userPrincipalName eq '{other.member_emails[0]}'",
            f"displayName eq '{other.group_name}'",
        ],
        "$skiptoken": list(skip_tokens.values()),
        "actor": [other.admin_id, other.admin_email],
    }


# Parameters sent with every request of a route that takes them.
QUERY_FLAGS = {"force": "true"}


@dataclass
class Probe:
    """One request of the walk."""

    method: str
    template: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    data: dict[str, list[str]] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    names_other: bool = False  # its path or body names an object of the other organization

    def sent(self) -> str:
        """Everything the request carries, as text (an answer may echo it back)."""
        parts = [unquote(self.path), json.dumps(self.params), json.dumps(self.json)]
        parts += [(self.content or b"").decode(), json.dumps(self.data)]
        parts += [file[1].decode() for file in (self.files or {}).values()]
        return "\n".join(parts).lower()

    def __str__(self) -> str:
        shown = f"{self.method} {self.path}"
        if self.params:
            shown += f" params={self.params}"
        body = self.json if self.json is not None else self.data
        if body is not None:
            shown += f" body={json.dumps(body)}"
        if self.content:
            shown += f" body={self.content!r}"
        return shown


@dataclass
class Walk:
    """The walker (organization A), the walked (B), and what the walk found."""

    walker: Organization
    walked: Organization
    findings: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    sent: int = 0
    routes: set[tuple[str, str]] = field(default_factory=set)  # those walked

    def check(self, probe: Probe, answer: httpx.Response, *, success: bool) -> None:
        """Record what is wrong with this answer."""
        self.sent += 1
        self.routes.add((probe.method, probe.template))
        problems = []
        by_design = ANSWERS_2XX_BY_DESIGN.get((probe.method, probe.template))
        if probe.names_other and success:
            if by_design is None:
                problems.append("succeeded on the other organization's object")
            elif not by_design[1](answer):
                problems.append(f"succeeded beyond what is allowed ({by_design[0]})")
        text = html.unescape(answer.text).lower()
        location = unquote(answer.headers.get("location", "")).lower()
        sent = probe.sent()
        leaked = sorted(
            marker
            for marker in markers(self.walked)
            if marker not in sent and (marker in text or marker in location)
        )
        if leaked:
            problems.append(f"answered with the other organization's {leaked}")
        if problems:
            finding = f"{probe} -> {answer.status_code} {answer.text[:300]!r}: " + "; ".join(
                problems
            )
            known = (probe.method, probe.template) in KNOWN_FINDINGS
            (self.known if known else self.findings).append(finding)


# --- arrangement ---------------------------------------------------------------------------


@dataclass
class Organizations:
    a: Organization
    b: Organization


@pytest.fixture()
def organizations(stories, dns_zone, database) -> Iterator[Organizations]:
    a = build_organization(
        stories,
        dns_zone,
        stem="northwind",
        admin_name="Nora Northwind-Admin",
        people=["Noel Northwind-Martin", "Nina Northwind-Petit"],
        group_name="Northwind Walkers",
    )
    b = build_organization(
        stories,
        dns_zone,
        stem="tailspin",
        admin_name="Tess Tailspin-Admin",
        people=["Theo Tailspin-Blanc", "Tina Tailspin-Brun"],
        group_name="Tailspin Climbers",
    )
    open_engagements(stories, database, [a, b])
    yield Organizations(a, b)
    a.api.close()
    b.api.close()


def _all(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a collection, page after page."""
    items: list[dict[str, Any]] = []
    answer = api.get(path, params=params)
    while True:
        assert answer.status_code == 200, (path, answer.text)
        items += answer.json()["value"]
        link = answer.json().get("@odata.nextLink")
        if not link:
            return items
        answer = api.get(link)


def snapshot(organization: Organization) -> dict[str, Any]:
    """Everything of the organization its admin can read through the API."""
    api = organization.api

    def read(path: str) -> Any:
        answer = api.get(path)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json()

    users = _all(api, "/v1/users", **{"$top": 999})
    groups = _all(api, "/v1/groups", **{"$top": 999})
    domains = read("/v1/domains")["value"]
    return {
        "organization": read("/v1/organization"),
        "policy": read("/v1/policies/authorizationPolicy"),
        "users": {
            user["id"]: {
                "user": read(f"/v1/users/{user['id']}"),
                "memberOf": read(f"/v1/users/{user['id']}/memberOf"),
                "licenseDetails": read(f"/v1/users/{user['id']}/licenseDetails"),
            }
            for user in users
        },
        "groups": {
            group["id"]: {
                "group": read(f"/v1/groups/{group['id']}"),
                "members": _all(api, f"/v1/groups/{group['id']}/members", **{"$top": 999}),
                "withErrors": read(f"/v1/groups/{group['id']}/membersWithLicenseErrors"),
            }
            for group in groups
        },
        "domains": {
            domain["id"]: {
                "domain": domain,
                "records": read(f"/v1/domains/{domain['id']}/verificationDnsRecords"),
            }
            for domain in domains
        },
        "subscriptions": read("/v1/subscriptions"),
        "subscribedSkus": read("/v1/subscribedSkus"),
        "roles": read("/v1/directoryRoles"),
        "partnerAccount": read(f"/v1/partnerAccounts/{organization.partner_account_id}"),
        "partnerTenants": read(f"/v1/partnerAccounts/{organization.partner_account_id}/tenants"),
        "partnerMembers": _all(
            api, f"/v1/partnerAccounts/{organization.partner_account_id}/members"
        ),
        "partnerAccounts": read("/v1/me/partnerAccounts"),
        "engagements": read("/v1/engagements"),
        "engagement": {
            "members": read(f"/v1/engagements/{organization.engagement_id}/members"),
            "accessRequests": read("/v1/accessRequests"),
            "program": read(f"/v1/programs/{organization.program_id}"),
        },
        "scimTokens": read("/v1/scimTokens"),
        "audit": [event["id"] for event in _all(api, "/v1/auditLogs/directoryAudits")],
    }


def settle(database) -> None:
    """Wait until the outbox has sent what the walk queued."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and database.scalar(
        "SELECT count(*) FROM outbox_messages WHERE status = 'pending'"
    ):
        time.sleep(0.05)


def mail_to(smtp, organization: Organization) -> int:
    people = {organization.admin_email, *organization.member_emails}
    return sum(1 for mail in smtp.messages if people & set(mail.recipients))


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    """Where two snapshots differ, as paths into them."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in before or key not in after:
                found.append(
                    f"{where}/{key}: {before.get(key, '<none>')!r} -> {after.get(key, '<none>')!r}"
                )
            else:
                found += differences(before[key], after[key], f"{where}/{key}")
        return found
    if before != after:
        return [f"{where}: {before!r} -> {after!r}"]
    return []


def assignments(
    names: list[str], own: dict[str, list[str]], other: dict[str, list[str]]
) -> list[dict[str, str]]:
    """Path parameter values to try: the walker's own objects, the other organization's, and
    each parameter aimed at each of the other's objects with the rest on the walker's own."""
    mine = {name: own[name][0] for name in names}
    found = [mine, {name: other[name][0] for name in names}]
    found += [mine | {name: value} for name in names for value in other[name]]
    unique: list[dict[str, str]] = []
    for assignment in found:
        if assignment not in unique:
            unique.append(assignment)
    return unique


def paths_to_walk(walk: Walk, method: str, template: str, body_text: str) -> list[tuple[str, bool]]:
    """The paths to send a route's request to, each with whether the request (path or body)
    names an object of the walked organization."""
    names = path_parameters(template)
    own, other = path_values(walk.walker), path_values(walk.walked)
    unknown = [name for name in names if name not in other]
    assert not unknown, (
        f"{method} {template}: which of the other organization's ids go into {unknown}? "
        "Add them to path_values."
    )
    tried = [fill_path(template, assignment) for assignment in assignments(names, own, other)]
    aimed = [(path, names_other(walk, path, body_text)) for path in tried]
    if any(named for _, named in aimed):
        # The walker's own objects with nothing of the other organization: not this walk's
        # business (and a delete would remove what later requests use).
        return [(path, named) for path, named in aimed if named]
    # Parameters alike in every organization (role ids), or none: once is enough.
    return aimed[:1]


def walk_order(route: tuple[str, str]) -> int:
    """Reads of collections first (they must not show what the walk adds), then objects, then
    writes to collections (which may add a name that an object's path uses)."""
    method, template = route
    return 1 if path_parameters(template) else 0 if method == "GET" else 2


def names_other(walk: Walk, *texts: str) -> bool:
    scoped = {value.lower() for value in scoped_values(walk.walked)}
    return any(value in text.lower() for value in scoped for text in texts)


def request_body(operation: Operation, maker: ExampleMaker, other: Organization) -> dict[str, Any]:
    """Probe fields carrying a plausible body of the operation (aimed at `other`)."""
    content = operation.body_content()
    if "application/json" in content:
        return {"json": maker.example(content["application/json"].get("schema", {}))}
    if "text/csv" in content:
        return {"content": import_file(other), "headers": {"content-type": "text/csv"}}
    if "multipart/form-data" in content:
        schema = maker.resolve(content["multipart/form-data"].get("schema", {}))
        return {
            "files": {
                name: ("walk.csv", import_file(other), "text/csv")
                for name in schema.get("properties", {})
            }
        }
    if "application/x-www-form-urlencoded" in content:
        schema = content["application/x-www-form-urlencoded"].get("schema", {})
        return {"data": {k: [str(v)] for k, v in maker.instance(schema).items()}}
    assert not content, f"{operation.method} {operation.template}: a body of {sorted(content)}"
    return {}


def api_probes(walk: Walk, openapi: dict[str, Any], skip_tokens: dict[str, str]) -> Iterator[Probe]:
    """Every API operation, aimed at the walked organization."""
    maker = ExampleMaker(openapi["components"]["schemas"], body_value(walk.walked))
    searches = query_values(walk.walked, skip_tokens)
    walked = [o for o in operations(openapi) if (o.method, o.template) not in NO_TENANT_DATA]
    walked.sort(key=lambda o: walk_order((o.method, o.template)))
    for operation in walked:
        body = request_body(operation, maker, walk.walked)
        headers = body.pop("headers", {})
        for parameter in operation.parameters("header"):
            if parameter["name"].lower() == "idempotency-key":
                headers[parameter["name"]] = walk.walked.purchase_key
        flags = {
            p["name"]: QUERY_FLAGS[p["name"]]
            for p in operation.parameters("query")
            if p["name"] in QUERY_FLAGS
        }
        body_text = json.dumps({k: v for k, v in body.items() if k != "files"}, default=repr)
        body_text += "".join(file[1].decode() for file in body.get("files", {}).values())
        route = (operation.method, operation.template)
        for path, named in paths_to_walk(walk, *route, body_text):
            yield Probe(*route, path, flags, dict(headers), names_other=named, **body)
        if not path_parameters(operation.template):
            for parameter in operation.parameters("query"):
                for value in searches.get(parameter["name"], []):
                    params = flags | {parameter["name"]: value}
                    named = names_other(walk, body_text)
                    yield Probe(
                        *route, operation.template, params, dict(headers), names_other=named, **body
                    )


def skip_tokens_of(organization: Organization, openapi: dict[str, Any]) -> dict[str, str]:
    """The organization's next-page tokens of each collection that pages (first page of one)."""
    tokens = {}
    for operation in operations(openapi):
        takes = {p["name"] for p in operation.parameters("query")}
        if operation.method == "GET" and "$skiptoken" in takes and "$top" in takes:
            if path_parameters(operation.template):
                continue
            answer = organization.api.get(operation.template, params={"$top": 1})
            token = next_skip_token(answer) if answer.status_code == 200 else None
            if token:
                tokens[operation.template] = token
    return tokens


def send(client: httpx.Client, probe: Probe) -> httpx.Response:
    answer = client.request(
        probe.method,
        probe.path,
        params=probe.params,
        headers=probe.headers,
        json=probe.json,
        content=probe.content,
        data=probe.data,
        files=probe.files,
    )
    assert answer.status_code != 401, f"the walker lost its session at {probe}: {answer.text}"
    if answer.status_code == 303:
        assert not answer.headers["location"].startswith("/signin"), (
            f"the walker lost its session at {probe}"
        )
    return answer


def remove_added_domains(organization: Organization, kept: set[str]) -> None:
    """Take off the names the walk added to the walker (by design, unverified)."""
    for domain in organization.api.get("/v1/domains").json()["value"]:
        if domain["id"] not in kept:
            removed = organization.api.delete(f"/v1/domains/{domain['id']}")
            assert removed.status_code == 204, removed.text


def leaks_into(walk: Walk, state: dict[str, Any]) -> list[str]:
    """The walked organization's markers found in the walker's own state (its audit log
    aside: it records the names the walker added and removed)."""
    text = json.dumps({k: v for k, v in state.items() if k != "audit"}).lower()
    return sorted(marker for marker in markers(walk.walked) if marker in text)


def assert_clean(walk: Walk, before: dict[str, Any], database, smtp, mails: int) -> None:
    settle(database)
    changes = differences(before, snapshot(walk.walked))
    report = "\n".join(walk.findings + [f"changed: {change}" for change in changes])
    assert not walk.findings and not changes, f"{walk.sent} requests walked:\n{report}"
    assert mail_to(smtp, walk.walked) == mails, "mail went to the other organization's people"
    assert leaks_into(walk, snapshot(walk.walker)) == []


def test_no_api_route_reaches_another_organization(organizations, database, smtp):
    a, b = organizations.a, organizations.b
    openapi = a.api.get("/openapi.json").json()
    walk = Walk(walker=a, walked=b)
    kept = {domain["id"] for domain in a.api.get("/v1/domains").json()["value"]}
    skip_tokens = skip_tokens_of(b, openapi)
    assert {"/v1/users", "/v1/groups"} <= set(skip_tokens)
    settle(database)
    before, mails = snapshot(b), mail_to(smtp, b)

    for probe in api_probes(walk, openapi, skip_tokens):
        answer = send(a.api, probe)
        walk.check(probe, answer, success=answer.is_success)

    remove_added_domains(a, kept)
    every = {(o.method, o.template) for o in operations(openapi)}
    assert walk.routes == every - set(NO_TENANT_DATA)
    assert_clean(walk, before, database, smtp, mails)


def form_values(other: Organization) -> dict[str, str]:
    """What a person would type into a form's fields, aimed at the other organization."""
    return {
        "address": other.member_emails[0],
        "addresses": f"{other.member_emails[0]}, {other.admin_email}",
        "domain": other.custom_domain,
        "name": other.custom_domain,  # a domain to add
        "username": "walk",
        "display_name": "Walk",
        "subject": "Walk",
        "body": "Walk",
    }


def page_query_values(other: Organization, skip_tokens: dict[str, str]) -> dict[str, list[str]]:
    """A page's search and paging parameters, looking for the other organization's data."""
    return {
        "q": [other.member_names[0].split()[0], other.group_name],
        "actor": [other.admin_email, other.admin_id],
        "after": list(skip_tokens.values()),
    }


def page_probes(
    walk: Walk, routes: list[tuple[str, str]], forms: dict[str, Form], token: str, skips: dict
) -> Iterator[Probe]:
    """Every admin page and form, aimed at the walked organization."""
    typed = form_values(walk.walked)
    searches = page_query_values(walk.walked, skips)
    own = path_values(walk.walker)
    for method, template in sorted(routes, key=walk_order):
        data = files = None
        if method == "POST":
            own_path = fill_path(template, {n: own[n][0] for n in path_parameters(template)})
            form = forms.get(own_path, Form(own_path, "POST"))
            data = {name: [typed[name]] if name in typed else v for name, v in form.fields.items()}
            data["csrf_token"] = [token]
            files = {n: ("walk.csv", import_file(walk.walked), "text/csv") for n in form.files}
        body_text = json.dumps(data) + "".join(f[1].decode() for f in (files or {}).values())
        for path, named in paths_to_walk(walk, method, template, body_text):
            yield Probe(method, template, path, data=data, files=files or None, names_other=named)
        if method == "GET" and not path_parameters(template):
            for name, values in searches.items():
                for value in values:
                    yield Probe(method, template, template, params={name: value})


def test_no_admin_page_reaches_another_organization(organizations, server, database, smtp):
    a, b = organizations.a, organizations.b
    routes = page_routes(server.app)
    admin_pages = [
        route
        for route in routes
        if route[1].startswith(WALKED_PREFIXES) and route not in PAGES_WITHOUT_TENANT_DATA
    ]
    public_reads = [
        (method, template)
        for method, template in routes
        if method == "GET"
        and not path_parameters(template)
        and (method, template) not in PAGES_WITHOUT_TENANT_DATA
        and not template.startswith(WALKED_PREFIXES)
    ]
    unlisted = set(routes) - set(admin_pages) - set(public_reads) - set(PAGES_WITHOUT_TENANT_DATA)
    assert not unlisted, f"pages outside /admin: walk them or say why not: {sorted(unlisted)}"
    walk = Walk(walker=a, walked=b)
    kept = {domain["id"] for domain in a.api.get("/v1/domains").json()["value"]}
    skip_tokens = skip_tokens_of(b, a.api.get("/openapi.json").json())
    settle(database)
    before, mails = snapshot(b), mail_to(smtp, b)

    with sign_in(server, a.admin_email) as browser:
        token = csrf_token(browser.get("/admin"))
        # The forms the walker's own pages carry, by where they post.
        own = path_values(a)
        forms: dict[str, Form] = {}
        for method, template in admin_pages:
            if method == "GET":
                path = fill_path(template, {n: own[n][0] for n in path_parameters(template)})
                page = browser.get(path)
                if template.startswith(OPERATOR_PAGES):
                    assert page.status_code == 404, (path, page.status_code)
                    continue
                assert page.status_code < 400, (path, page.status_code, page.text[:500])
                forms.update({form.action: form for form in forms_of(page.text)})
        for probe in page_probes(walk, admin_pages + public_reads, forms, token, skip_tokens):
            answer = send(browser, probe)
            walk.check(probe, answer, success=answer.status_code < 400)
        assert browser.get("/admin").status_code == 200

    remove_added_domains(a, kept)
    assert walk.routes == set(admin_pages) | set(public_reads)
    assert_clean(walk, before, database, smtp, mails)


def test_another_organizations_subscribed_sku_is_not_found(stories, database):
    a = global_admin(stories, database, "ariane@contoso.com")
    b = global_admin(stories, database, "bruno@fabrikam.com")
    for admin in (a, b):
        buy(admin.api, "BUSINESS_PREMIUM", 2)
    own = a.api.get(f"/v1/subscribedSkus/{a.tenant_id}_{PREMIUM.sku_id}")
    assert own.status_code == 200, own.text

    answer = a.api.get(f"/v1/subscribedSkus/{b.tenant_id}_{PREMIUM.sku_id}")

    assert answer.status_code == 404, answer.text
