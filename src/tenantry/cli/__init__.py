"""`tenantry` (Typer): run the server and do every admin task from a terminal.

- `main.py` assembles the app (`tenantry.cli.main:app`) from each domain's `cli.py`
  (`auth`, `domains`, `tenants`, `licensing`, `directory`) and from the commands
  about the server itself: `server.py` (migrate, serve, prune), `mail.py` (the
  development mailbox), `jobs.py` (the job queue).
- `support.py` holds what they share: the API client, `--json`, tables, errors.

This file stays empty on purpose: importing `tenantry.cli.support` runs it first,
so if it assembled the app, every domain's `cli.py` would import itself back.
"""
