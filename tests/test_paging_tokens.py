"""`$skiptoken`s come back from the caller: one that holds no text is refused, never a 500."""

from __future__ import annotations

import base64
import uuid

import pytest

from tenantry.core.paging import decode_token, encode_token
from tests.support.directory import admin_api, error_code


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as api:
        yield api


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# JSON's `\ud800` escape decodes to a lone surrogate: a str Python holds, but no database
# can store or compare and no answer can carry.
LONE_SURROGATE = _token(
    '{"o": "displayName", "d": false, "k": "\\ud800", "i": "' + str(uuid.UUID(int=1)) + '"}'
)


def test_a_token_holding_a_lone_surrogate_decodes_to_nothing():
    assert decode_token(LONE_SURROGATE) is None
    assert decode_token(_token('{"\\udfff": 1}')) is None
    assert decode_token(_token('{"k": ["\\ud800"]}')) is None
    assert decode_token(encode_token({"k": "Élodie 🌍"})) == {"k": "Élodie 🌍"}


def test_lists_refuse_a_token_holding_a_lone_surrogate_and_the_connection_goes_on(ariane):
    group = ariane.post("/v1/groups", json={"displayName": "Sales"}).json()
    for path in ("/v1/users", "/v1/groups", f"/v1/groups/{group['id']}/members"):
        refused = ariane.get(path, params={"$skiptoken": LONE_SURROGATE})
        assert refused.status_code == 400, (path, refused.text)
        assert error_code(refused) == "invalidSkipToken"
        assert refused.json()["error"]["target"] == "$skiptoken"
        # The same keep-alive connection serves the next request.
        assert ariane.get(path).status_code == 200
