"""Directory sync over SCIM 2.0: provisioning tokens, the service provider, its log."""
