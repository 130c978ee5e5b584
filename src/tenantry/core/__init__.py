"""Infrastructure shared by every domain: config, database, errors, audit, mail, security."""
