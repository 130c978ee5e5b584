"""Tenantry: a self-hostable control plane for business software."""

__version__ = "0.1.0"
