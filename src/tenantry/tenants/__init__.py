"""Tenants: organizations, their state and their authorization policy."""
