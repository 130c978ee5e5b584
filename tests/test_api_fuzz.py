"""Schemathesis over the whole API, as a signed-in Global Administrator: no request it makes up
from `/openapi.json`, valid or not, gets a 5xx.

Schemathesis's engine (what its CLI runs) drives the phases: each operation gets its schema's
examples and `TENANTRY_FUZZ_EXAMPLES` generated requests (10), then the stateful phase chains
operations through the ids answers carry. That stays under a minute on SQLite on a loaded
two-core machine. For a deeper run, add the coverage phase (every edge case the schema
defines: about 1,900 requests more) and more examples:

    TENANTRY_FUZZ_PHASES=examples,coverage,fuzzing,stateful TENANTRY_FUZZ_EXAMPLES=200 \
        .venv/bin/python -m pytest -p no:cacheprovider tests/test_api_fuzz.py

(`TENANTRY_FUZZ_SEED` replays a run.) Only `not_a_server_error` is checked: the other checks
judge how precise the schema is, not whether the server breaks. Schemathesis's own pytest
integration (`schemathesis.pytest.from_fixture`) is not used: with pytest 9 it fails on
`Function._nodeid` (schemathesis 4.32.5).
"""

from __future__ import annotations

import itertools
import os

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from tests.support.licensing import buy, global_admin
from tests.support.server import LiveServer

EXAMPLES = int(os.environ.get("TENANTRY_FUZZ_EXAMPLES", "10"))
PHASES = os.environ.get("TENANTRY_FUZZ_PHASES", "examples,fuzzing,stateful").split(",")
SEED = os.environ.get("TENANTRY_FUZZ_SEED")

# Operations left out, and why: revoking the token ends the fuzzer's own session, so each of
# its requests would cost a new admin (see AdminToken).
LEFT_OUT = {("POST", "/v1/auth/revoke")}


@pytest.fixture()
def api_schema(server: LiveServer, stories, database) -> schemathesis.BaseSchema:
    """The live server's OpenAPI document, every request carrying an admin's bearer token."""
    organizations = itertools.count(1)

    class AdminToken:
        """A Global Administrator's bearer token, of an organization with a subscription.

        The fuzzer learns ids from answers and may end the admin's session the way an admin
        ends anyone's (resetting their password, blocking or deleting them): the 401 that
        follows brings a new admin of a new organization.
        """

        def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
            admin = global_admin(stories, database, f"ariane@fuzz{next(organizations)}.com")
            buy(admin.api, "BUSINESS_PREMIUM", 5)
            token = admin.api.headers["Authorization"]
            admin.api.close()
            return token

        def set(
            self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext
        ) -> None:
            case.headers = {**(case.headers or {}), "Authorization": data}

    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
            "phases": {
                phase: {"enabled": phase in PHASES}
                for phase in ("examples", "coverage", "fuzzing", "stateful")
            },
            **({"seed": int(SEED)} if SEED else {}),
        }
    )
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)
    for method, path in LEFT_OUT:
        schema = schema.exclude(method=method, path=path)
    schema.auth(refresh_interval=3600)(AdminToken)
    return schema


def test_no_generated_request_gets_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    failures, errors, operations = [], [], set()
    for event in engine.from_schema(api_schema).execute():
        if isinstance(event, events.ScenarioFinished):
            operations.add(event.recorder.label)
            for checks in event.recorder.checks.values():
                failures += [
                    f"{check.failure_info.failure.title}\n{check.failure_info.code_sample}"
                    for check in checks
                    if check.status == Status.FAILURE and check.failure_info is not None
                ]
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception

    assert not failures, "\n\n".join(dict.fromkeys(failures))
    assert not errors, "\n".join(errors)
    documented = {
        f"{method.upper()} {path}"
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
        if (method.upper(), path) not in LEFT_OUT
    }
    assert documented <= operations, documented - operations
