"""The reference SCIM server bench/scim.py compares with: scim2-server's ASGI application over
its in-memory storage, with scim2-server's default schemas and resource types, no token
check (it accepts the bench's bearer token like any), served by uvicorn (`--factory create`)."""

from __future__ import annotations

from scim2_models import ScimProvider
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)


def create() -> ASGIApplication:
    """A fresh in-memory SCIM server."""
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=load_default_service_provider_config(),
    )
    return ASGIApplication(AsyncInMemoryStorage(), provider)
