"""Licensing: self-service offers, subscriptions, license assignments, entitlements."""
