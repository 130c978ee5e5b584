"""What the service provider says of itself (RFC 7644 §4): ServiceProviderConfig, Schemas,
ResourceTypes, built by scim2-models from the very models requests are read with.

Also here: reading a list request's parameters (RFC 7644 §3.4.2) and trimming a
representation to `attributes` / `excludedAttributes` (§3.4.2.5, §3.9), both with
scim2-models' own parsing and serialization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    InvalidValueException,
    NotFoundException,
    Patch,
    Resource,
    ResponseParameters,
    Schema,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
)

from tenantry.scim.constants import (
    DEFAULT_COUNT,
    MAX_BULK_OPERATIONS,
    MAX_PAYLOAD_BYTES,
    MAX_RESULTS,
)
from tenantry.scim.exceptions import ScimError, from_validation
from tenantry.scim.resources import (
    GROUP_TYPE,
    POLICY,
    USER_TYPE,
    EnterpriseUser,
    Group,
    GroupResource,
    User,
    UserResource,
)
from tenantry.scim.users import Query

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def _meta(base_url: str, resource_type: str, path: str) -> dict[str, Any]:
    return {"resourceType": resource_type, "location": f"{base_url}{path}"}


def service_provider_config(base_url: str, documentation_uri: str) -> dict[str, Any]:
    """What the service provider supports, and its limits."""
    config = ServiceProviderConfig(
        documentation_uri=documentation_uri,
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True, max_operations=MAX_BULK_OPERATIONS, max_payload_size=MAX_PAYLOAD_BYTES
        ),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Provisioning token",
                description="A bearer token an administrator creates in Admin center > "
                "Directory sync (POST /v1/scimTokens); the organization is implied by it.",
                primary=True,
            )
        ],
    )
    document = config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    document["meta"] = _meta(base_url, "ServiceProviderConfig", "/ServiceProviderConfig")
    return document


_SCHEMA_MODELS: tuple[type[Any], ...] = (User, EnterpriseUser, Group)


def _schema_documents(base_url: str) -> list[dict[str, Any]]:
    documents = []
    for model in _SCHEMA_MODELS:
        schema: Schema = model.to_schema()
        document = schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        if model is EnterpriseUser:
            document["name"] = "EnterpriseUser"
            document["description"] = "Enterprise User"
        else:
            document["description"] = document["name"]
        document["meta"] = _meta(base_url, "Schema", f"/Schemas/{document['id']}")
        documents.append(document)
    return documents


def schemas(base_url: str) -> list[dict[str, Any]]:
    """The schemas of the resources served (User, the enterprise extension, Group)."""
    return _schema_documents(base_url)


def schema(base_url: str, schema_id: str) -> dict[str, Any]:
    """One schema by its URN."""
    for document in _schema_documents(base_url):
        if document["id"].lower() == schema_id.lower():
            return document
    raise NotFoundException(detail=f"Schema {schema_id} not found")


def resource_types(base_url: str) -> list[dict[str, Any]]:
    """User (with the enterprise extension) and Group."""
    documents = []
    for resource_type in (USER_TYPE, GROUP_TYPE):
        document = resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        document["meta"] = _meta(base_url, "ResourceType", f"/ResourceTypes/{document['id']}")
        documents.append(document)
    return documents


def resource_type(base_url: str, type_id: str) -> dict[str, Any]:
    """One resource type by its name."""
    for document in resource_types(base_url):
        if document["id"].lower() == type_id.lower():
            return document
    raise NotFoundException(detail=f"ResourceType {type_id} not found")


def list_response(
    resources: list[dict[str, Any]], *, total: int, start_index: int
) -> dict[str, Any]:
    """A ListResponse (RFC 7644 §3.4.2)."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


@dataclass
class Listing:
    """A list request read and checked: the query, and what to return of each resource."""

    query: Query
    parameters: ResponseParameters[Any] | None
    members: bool  # groups: whether their members are read at all


def _integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidValueException(detail=f"{name} is a whole number, not {value!r}.") from None


def read_listing(model: type[Resource[Any]], values: dict[str, Any]) -> Listing:
    """The parameters of GET /Users, /Groups or a POST …/.search body (RFC 7644 §3.4.2–3)."""
    start = _integer(values.get("startIndex"), "startIndex")
    count = _integer(values.get("count"), "count")
    fields = {
        key: values[key]
        for key in ("filter", "sortBy", "sortOrder", "attributes", "excludedAttributes")
        if values.get(key) not in (None, "", [])
    }
    try:
        request = SearchRequest[model].model_validate(  # type: ignore[valid-type]
            fields, scim_ctx=Context.SEARCH_REQUEST, scim_policy=POLICY
        )
    except ValidationError as exc:
        error = from_validation(exc)
        raise ScimError(
            status=400, scim_type=error.scim_type or "invalidValue", detail=error.detail
        ) from None
    order = str(values.get("sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise InvalidValueException(detail="sortOrder is ascending or descending.")
    query = Query(
        filter=request.filter.ast if request.filter is not None else None,
        sort_by=str(request.sort_by) if request.sort_by is not None else None,
        descending=order == "descending",
        start_index=max(1, start or 1),
        count=max(0, min(MAX_RESULTS, DEFAULT_COUNT if count is None else count)),
    )
    parameters = None
    if request.attributes or request.excluded_attributes:
        parameters = ResponseParameters[model](  # type: ignore[valid-type]
            attributes=request.attributes, excluded_attributes=request.excluded_attributes
        )
    return Listing(query=query, parameters=parameters, members=wants_members(parameters))


def read_parameters(
    model: type[Resource[Any]], attributes: str | None, excluded: str | None
) -> ResponseParameters[Any] | None:
    """`attributes` / `excludedAttributes` of a request on one resource."""
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters[model].model_validate(  # type: ignore[valid-type]
            {"attributes": attributes or None, "excludedAttributes": excluded or None},
            scim_policy=POLICY,
        )
    except ValidationError as exc:
        error = from_validation(exc)
        raise ScimError(
            status=400, scim_type=error.scim_type or "invalidValue", detail=error.detail
        ) from None


def wants_members(parameters: ResponseParameters[Any] | None) -> bool:
    """Whether a group's members are to be returned (read) at all."""
    if parameters is None:
        return True
    if parameters.excluded_attributes:
        return not any(_names_members(path) for path in parameters.excluded_attributes)
    return any(_names_members(path) for path in parameters.attributes or ())


def _names_members(path: Any) -> bool:
    text = str(path).lower()
    return text == "members" or text.startswith(
        ("members.", "urn:ietf:params:scim:schemas:core:2.0:group:members")
    )


def project(
    model: type[Resource[Any]], document: dict[str, Any], parameters: ResponseParameters[Any] | None
) -> dict[str, Any]:
    """A representation trimmed to what the client asked for (scim2-models' serialization)."""
    if parameters is None:
        return document
    resource = model.model_validate(
        document, scim_ctx=Context.RESOURCE_QUERY_RESPONSE, scim_policy=POLICY
    )
    return resource.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )


MODELS: dict[str, type[Resource[Any]]] = {"User": UserResource, "Group": GroupResource}
