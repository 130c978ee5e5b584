"""Directory: users, their roles and groups."""
