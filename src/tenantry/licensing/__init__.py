"""Licensing: self-service offers, subscriptions, license assignments, entitlements."""

from tenantry.licensing.tokens import EntitlementVerifier, InvalidEntitlementToken, verify_token

__all__ = ["EntitlementVerifier", "InvalidEntitlementToken", "verify_token"]
