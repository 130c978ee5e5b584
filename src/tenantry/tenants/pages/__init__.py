"""The organization's web pages: its homes, the "Become the admin" wizard, the audit log."""
