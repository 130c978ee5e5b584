"""`tenantry signup start|verify`: sign up from a terminal, as the /signup page does.

`start` asks for the 6-digit code and remembers the sign-up it started (in the CLI's
config folder, beside the credentials of `tenantry login`); `verify` enters the code
and chooses the password. No sign-in is needed: this is how an account begins.
"""

from __future__ import annotations

import json

import typer

from tenantry.cli.support import (
    JsonOption,
    check,
    console,
    credentials_path,
    emit,
    fail,
    server_client,
)

app = typer.Typer(help="Sign up with a work email address.", no_args_is_help=True)

UrlOption = typer.Option("http://127.0.0.1:8000", "--url", envvar="TENANTRY_URL")


def _pending_path():
    return credentials_path().with_name("signup.json")


@app.command("start")
def start(
    email: str = typer.Argument(..., help="Your work email address."),
    display_name: str = typer.Argument(..., help='Your name, e.g. "Ariane Dupont".'),
    url: str = UrlOption,
    as_json: bool = JsonOption,
) -> None:
    """Start signing up: Tenantry emails a 6-digit code to the address."""
    with server_client(url) as client:
        started = check(
            client.post("/v1/signup", json={"email": email, "displayName": display_name})
        )
    path = _pending_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "email": email, "signupId": started["signupId"]}))
    if as_json:
        emit(started, as_json=True)
    else:
        console.print(
            f"A 6-digit code was sent to {email}. Then: tenantry signup verify --code CODE",
            soft_wrap=True,
        )


@app.command("verify")
def verify(
    code: str = typer.Option(..., "--code", prompt="Code from the email", help="The 6 digits."),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True
    ),
    as_json: bool = JsonOption,
) -> None:
    """Enter the emailed code and choose your password: the account is made, in your
    organization's tenant (formed from the email's domain)."""
    path = _pending_path()
    if not path.exists():
        fail("no sign-up started here: run `tenantry signup start EMAIL NAME` first")
    pending = json.loads(path.read_text())
    with server_client(pending["url"]) as client:
        verified = check(
            client.post(
                f"/v1/signup/{pending['signupId']}/verify",
                json={"code": code.strip(), "password": password},
            )
        )
    path.unlink()
    if as_json:
        emit(verified, as_json=True)
    else:
        tenant = verified["tenant"]
        console.print(
            f"Welcome, {verified['user']['displayName']}: you are in {tenant['displayName']}. "
            f"Sign in with: tenantry login -u {pending['email']}",
            soft_wrap=True,
        )
