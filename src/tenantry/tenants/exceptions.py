"""Tenant errors."""

from __future__ import annotations

from tenantry.core.errors import Forbidden

BECOME_ADMIN_HINT = (
    "Your organization has no administrator yet, so nobody can manage it. To become its "
    'administrator, open the admin center and choose "Become the admin": you will prove '
    "that your organization owns its domain and buy a license for each person."
)


class TenantUnmanaged(Forbidden):
    code = "tenantUnmanaged"

    def __init__(self, message: str = BECOME_ADMIN_HINT) -> None:
        super().__init__(message, details={"becomeAdminUrl": "/admin/become"})
