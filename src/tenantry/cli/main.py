"""`tenantry`: the Typer app, assembled from each domain's `cli.py` and the server's commands.

Nothing imports this module but the entry points (`tenantry`, `python -m tenantry`),
so the modules it assembles can all import `tenantry.cli.support` without a circle.
"""

from __future__ import annotations

import typer
from typer.core import TyperOption

from tenantry.auth import cli as auth_cli
from tenantry.cli import dev, doctor, jobs, mail, server
from tenantry.directory import cli as directory_cli
from tenantry.domains import cli as domains_cli
from tenantry.engagements import cli as engagements_cli
from tenantry.guests import cli as guests_cli
from tenantry.licensing import cli as licensing_cli
from tenantry.licensing import group_cli
from tenantry.partner import cli as partner_cli
from tenantry.scim import cli as scim_cli
from tenantry.signup import cli as signup_cli
from tenantry.tenants import cli as tenants_cli


def _flags_show_no_value() -> None:
    """Typer 0.29 prints `<bool>` beside every flag in `--help` (`--json <bool>`), as if it
    took a value: a flag shows no type, as in click's own help."""
    display_type = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag else display_type(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_value()

app = typer.Typer(
    help="Tenantry: tenants, domains, licenses and directory sync.", no_args_is_help=True
)
# The order here is the order `tenantry --help` lists the commands in.
app.add_typer(server.app)  # migrate, serve, prune
app.add_typer(doctor.app)  # doctor
app.add_typer(signup_cli.app, name="signup")
app.add_typer(auth_cli.app)  # login, whoami
app.add_typer(mail.app, name="mail")
app.add_typer(jobs.app, name="jobs")
app.add_typer(dev.app, name="dev")
app.add_typer(domains_cli.app, name="domain")
app.add_typer(tenants_cli.app, name="admin")
app.add_typer(tenants_cli.audit_app, name="audit")
app.add_typer(licensing_cli.catalog_app, name="catalog")
app.add_typer(licensing_cli.subscription_app, name="subscription")
app.add_typer(licensing_cli.license_app, name="license")
app.add_typer(directory_cli.user_app, name="user")
app.add_typer(directory_cli.group_app, name="group")
app.add_typer(directory_cli.role_app, name="role")
app.add_typer(partner_cli.operator_app, name="operator")
app.add_typer(partner_cli.partner_app, name="partner")
app.add_typer(engagements_cli.engagement_app, name="engagement")
app.add_typer(scim_cli.scim_app, name="scim")
# `tenantry group license …` is licensing's, under directory's `group`.
directory_cli.group_app.add_typer(group_cli.group_license_app, name="license")
# `tenantry user invite` is guests', under directory's `user`.
directory_cli.user_app.command("invite")(guests_cli.invite)
