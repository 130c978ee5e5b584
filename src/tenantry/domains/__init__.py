"""Domains: DNS names attached to tenants, their verification and ownership."""
