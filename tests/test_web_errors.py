"""What a browser and an API client get for an address that does not exist, and the
API documentation served without the internet."""

from __future__ import annotations

import re

import httpx

from tenantry.core.i18n import translate

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_the_styled_translated_page_for_an_unknown_address(api, server):
    for language in ("en", "fr", "nl"):
        page = api.get("/no/such/page", headers={"Accept": BROWSER, "Accept-Language": language})
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert translate(language, "error.notFound") in page.text.replace("&#39;", "'")
        assert '<link rel="stylesheet"' in page.text  # the site's layout, not a bare message

    refused = api.delete("/signup", headers={"Accept": BROWSER, "Accept-Language": "fr"})
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith("text/html")
    assert translate("fr", "error.methodNotAllowed") in refused.text.replace("&#39;", "'")


def test_api_clients_keep_the_one_json_error_shape(api):
    for path, accept in (
        ("/no/such/page", "application/json"),
        ("/no/such/page", "*/*"),
        ("/v1/noSuchThing", BROWSER),  # the API answers JSON even to a browser
    ):
        answer = api.get(path, headers={"Accept": accept})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "notFound"


def test_the_api_documentation_needs_no_internet(api, server):
    for path in ("/docs", "/redoc"):
        page = api.get(path)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources, page.text
        for source in sources:
            # Everything the page loads comes from this server, and is there.
            url = httpx.URL(server.url).join(source)
            assert url.host == "127.0.0.1", source
            assert api.get(str(url)).status_code == 200, source
        assert "openapi.json" in page.text
