"""Every table, imported once so that migrations and tests see the whole schema."""

from tenantry.auth.models import AccessToken, SignInLockout
from tenantry.core.audit import AuditEvent
from tenantry.core.db import Base
from tenantry.core.devzone import DevDnsRecord
from tenantry.core.idempotency import IdempotencyKey
from tenantry.core.jobs import Job
from tenantry.core.keyring import ServerSecret
from tenantry.core.mail import OutboxMessage
from tenantry.core.ratelimit import RateLimitBucket
from tenantry.directory.models import (
    Group,
    GroupMember,
    GroupSearchTerm,
    RoleAssignment,
    User,
    UserSearchTerm,
)
from tenantry.domains.models import Domain
from tenantry.engagements.models import (
    AccessRequest,
    Engagement,
    EngagementAudience,
    EngagementMember,
    Program,
    ProgramRole,
)
from tenantry.guests.models import Invitation
from tenantry.licensing.models import (
    GroupLicense,
    GroupLicenseProcessing,
    LicenseAssignment,
    OfferAssignment,
    SubscribedSku,
    Subscription,
)
from tenantry.partner.models import (
    PartnerAccount,
    PartnerAgreement,
    PlatformOperator,
    ReservedPublisherName,
)
from tenantry.scim.models import ProvisioningEvent, ScimGroup, ScimToken, ScimUser
from tenantry.signup.models import Signup
from tenantry.tenants.models import AdminClaim, Tenant

__all__ = [
    "AccessRequest",
    "AccessToken",
    "AdminClaim",
    "AuditEvent",
    "Base",
    "DevDnsRecord",
    "Domain",
    "Engagement",
    "EngagementAudience",
    "EngagementMember",
    "Group",
    "GroupLicense",
    "GroupLicenseProcessing",
    "GroupMember",
    "GroupSearchTerm",
    "IdempotencyKey",
    "Invitation",
    "Job",
    "LicenseAssignment",
    "OfferAssignment",
    "OutboxMessage",
    "PartnerAccount",
    "PartnerAgreement",
    "PlatformOperator",
    "Program",
    "ProgramRole",
    "ProvisioningEvent",
    "RateLimitBucket",
    "ReservedPublisherName",
    "RoleAssignment",
    "ScimGroup",
    "ScimToken",
    "ScimUser",
    "ServerSecret",
    "SignInLockout",
    "Signup",
    "SubscribedSku",
    "Subscription",
    "Tenant",
    "User",
    "UserSearchTerm",
]
