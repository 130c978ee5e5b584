"""`python -m tenantry`: the same CLI as the `tenantry` command."""

from tenantry.cli.main import app

if __name__ == "__main__":
    app(prog_name="tenantry")
