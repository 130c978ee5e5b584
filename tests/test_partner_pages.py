"""The partner program's pages over real HTTP: Ariane enrolls Contoso Labs through the wizard,
Jean confirms from the link in his email, Alain reads seed 003's refusal; every refusal of the
wizard beside its field, in English, French and Dutch, with nothing created."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from tenantry.core.i18n import translate
from tests.support.admin import make_global_admin
from tests.support.partner import ENROLL, STEP_TWO, enroll, walk_to_review, wizard_step
from tests.support.server import LiveServer
from tests.test_partner_operators import run
from tests.test_web_admin_takeover import notice_of, sign_in

LINK = re.compile(r"https?://[^/\s]+(/partner/approvals/\S+)")


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def field_error(page: httpx.Response, field: str) -> str:
    """The refusal shown beside a field of the form ("" when none)."""
    found = re.search(rf'data-error-for="{field}"[^>]*>([^<]*)<', page.text)
    return html.unescape(found.group(1)) if found else ""


def accounts(database) -> int:
    return database.scalar("SELECT count(*) FROM partner_accounts")


@pytest.fixture()
def contoso(stories, database):
    """Ariane (Global Administrator of the managed contoso.com) and Alain (a plain user)."""
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    make_global_admin(database, "ariane@contoso.com")


@pytest.fixture()
def ariane(contoso, server: LiveServer) -> Iterator[httpx.Client]:
    with sign_in(server, "ariane@contoso.com") as client:
        yield client


def test_ariane_enrolls_through_the_wizard_and_jean_confirms(ariane, server, smtp, database):
    t = lambda key, **params: translate("en", key, **params)  # noqa: E731
    home = ariane.get("/")
    assert 'href="/partner"' in home.text and t("partner.nav") in home.text
    program = ariane.get("/partner")
    assert program.status_code == 200 and 'href="/partner/enroll"' in program.text
    assert t("partner.program.before") in text_of(program)

    # Step 1, filled in from the organization: its name as the publisher name, Company fixed.
    first = ariane.get(ENROLL)
    assert first.status_code == 200
    assert 'data-test="step-1"' in first.text
    assert 'name="publisher_name" value="contoso.com"' in first.text
    assert t("partner.enroll.country.warning") in text_of(first)
    assert f'data-test="account-type">{t("partner.account_type.company")}<' in first.text
    assert '<option value="FR">France</option>' in first.text

    checked = wizard_step(ariane, first, "check", publisher_name="Contoso Labs")
    assert checked.status_code == 200 and 'data-test="step-1"' in checked.text
    assert t("partner.enroll.available", name="Contoso Labs") in text_of(checked)

    # Step 2 opens with Ariane as the contact; Back keeps everything, Next brings it back.
    second = wizard_step(ariane, checked, "next", country="FR", publisher_name="Contoso Labs")
    assert 'data-test="step-2"' in second.text
    assert 'value="Ariane Dupont"' in second.text and 'value="ariane@contoso.com"' in second.text
    typed = wizard_step(ariane, second, "back", **STEP_TWO)
    assert 'data-test="step-1"' in typed.text and 'value="Contoso Labs"' in typed.text
    assert '<option value="FR" selected>' in typed.text
    again = wizard_step(ariane, typed, "next")
    assert 'value="Jean Martin"' in again.text and 'value="+33 6 12 34 56 78"' in again.text

    # Step 3: everything, phones as kept (E.164), the agreement; nothing created yet.
    review = wizard_step(ariane, again, "next")
    assert 'data-test="step-3"' in review.text
    assert 'data-test="review-publisher">Contoso Labs<' in review.text
    assert 'data-test="review-contact-phone">+33142685300<' in review.text
    assert "Tenantry Collaboration Agreement" in review.text
    assert 'data-test="agreement-version">tenantry-default-1<' in review.text
    assert accounts(database) == 0 and smtp.to("jean@contoso.com") == []

    done = wizard_step(ariane, review, "finish", accept="on")
    assert done.status_code == 303 and done.headers["location"] == "/partner"
    overview = ariane.get("/partner")
    assert notice_of(overview) == t("partner.enrolled", publisher="Contoso Labs")
    assert f'data-state="pendingApproval">{t("partner.state.pendingApproval")}<' in overview.text
    assert 'data-test="publisher">Contoso Labs<' in overview.text
    assert 'data-test="country">France<' in overview.text
    assert "Jean Martin" in overview.text and "+33612345678" in overview.text
    assert t("partner.overview.agreement_accepted", version="tenantry-default-1", date="") in (
        text_of(overview)
    )
    assert 'data-test="resend"' in overview.text
    # The sections other parts fill: the enrolling tenant, the Owner, no invitations yet.
    assert 'data-test="linked-tenants"' in overview.text and "contoso.com" in overview.text
    assert re.search(r'data-member="ariane@contoso.com">.*?Owner', overview.text, re.S)
    assert 'data-test="no-invitations"' in overview.text
    # Enrolling again goes to the account.
    assert ariane.get(ENROLL).headers["location"] == "/partner"

    # Jean opens the link from his email: no sign-in, what he approves, Confirm.
    mail = smtp.wait_for("jean@contoso.com")[-1]
    path = LINK.search(mail.body).group(1)
    with httpx.Client(base_url=server.url, timeout=30) as jean:
        page = jean.get(path)
        assert page.status_code == 200
        assert 'data-test="publisher">Contoso Labs<' in page.text
        assert 'data-test="organization">contoso.com<' in page.text
        assert "Ariane Dupont" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        confirmed = jean.post(path, data={"csrf_token": token, "decision": "confirm"})
        assert confirmed.status_code == 200
        assert t("partner.approval.done.active", publisher="Contoso Labs") in text_of(confirmed)
        # The link is spent.
        assert jean.get(path).status_code == 404
    assert 'data-state="active"' in ariane.get("/partner").text
    assert "is active" in smtp.wait_for("ariane@contoso.com", count=3)[-1].subject


LANGUAGES = ("en", "fr", "nl")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_refusal_shows_beside_its_field_in_the_page_language(
    language, contoso, stories, server, database, smtp
):
    stories.sign_up("admin@fabrikam.com", "Fabrikam Admin")
    make_global_admin(database, "admin@fabrikam.com")
    enroll(stories.client_for("admin@fabrikam.com"), "Fabrikam Labs")
    run(database, "partner", "reserved", "add", "Northwind")
    t = lambda key, **params: translate(language, key, **params)  # noqa: E731

    def said(page: httpx.Response, field: str, key: str, /, **params: str) -> None:
        assert page.status_code in (400, 409), page.text
        assert f'<html lang="{language}">' in page.text
        assert field_error(page, field) == t(key, **params), page.text

    with sign_in(server, "ariane@contoso.com") as ariane:
        ariane.cookies.set("lang", language)
        first = ariane.get(ENROLL)

        # Step 1: no country, a name too long, taken (a look-alike), reserved, empty.
        refused = wizard_step(ariane, first, "next", country="", publisher_name="x" * 51)
        said(refused, "country", "error.invalidCountryOrRegion")
        said(refused, "publisher_name", "error.publisherNameTooLong")
        assert 'data-test="step-1"' in refused.text and 'value="' + "x" * 51 + '"' in refused.text
        for name, key in (
            ("FABRIKAM  labs", "error.publisherNameTaken"),
            ("Nоrthwind", "error.publisherNameReserved"),  # a Cyrillic о
            ("   ", "partner.error.publisherNameRequired"),
        ):
            refused = wizard_step(ariane, first, "next", country="FR", publisher_name=name)
            said(refused, "publisher_name", key)
            # The live check says the same, on the same step.
            checked = wizard_step(ariane, first, "check", publisher_name=name)
            assert field_error(checked, "publisher_name") == t(key)
        # Another account type than Company is refused even when the form is forged.
        forged = wizard_step(ariane, first, "next", country="FR", account_type="individual")
        said(forged, "account_type", "error.accountTypeNotSupported")

        # Step 2: each bad phone names its field; a bad address; an empty name.
        second = wizard_step(ariane, first, "next", country="BE", publisher_name="Contoso Labs")
        assert 'data-test="step-2"' in second.text
        refused = wizard_step(
            ariane,
            second,
            "next",
            **{
                **STEP_TWO,
                "contact_phone": "+33 1 42 68 53 00 ext. 12",
                "approver_phone": "12",
                "approver_email": "jean@",
                "approver_name": "",
            },
        )
        contact_phone = t("partner.field.contact_phone")
        said(refused, "contact_phone", "error.invalidPhoneNumber", field=contact_phone)
        approver_phone = t("partner.field.approver_phone")
        said(refused, "approver_phone", "error.invalidPhoneNumber", field=approver_phone)
        said(refused, "approver_email", "error.invalidEmail")
        approver_name = t("partner.field.approver_name")
        said(refused, "approver_name", "partner.error.invalidValue", field=approver_name)
        assert 'data-test="step-2"' in refused.text

        # Step 3: Finish without "I accept"; then the organization enrolls meanwhile.
        review = walk_to_review(ariane)
        refused = wizard_step(ariane, review, "finish")
        said(refused, "accept", "error.agreementNotAccepted")
        assert 'data-test="step-3"' in refused.text
        # A name another organization took while Ariane read the agreement: back to step 1.
        stories.sign_up("admin@tailspin.com", "Tailspin Admin")
        make_global_admin(database, "admin@tailspin.com")
        enroll(stories.client_for("admin@tailspin.com"), "contoso labs")
        taken = wizard_step(ariane, review, "finish", accept="on")
        said(taken, "publisher_name", "error.publisherNameTaken")
        assert 'data-test="step-1"' in taken.text and 'value="Contoso Labs"' in taken.text
        assert accounts(database) == 2  # Fabrikam's and Tailspin's
        assert not [m for m in smtp.to("jean@contoso.com") if "Contoso Labs" in m.subject]

        enroll(stories.client_for("ariane@contoso.com"), "Contoso Studio")
        exists = wizard_step(ariane, review, "finish", accept="on")
        assert exists.status_code == 409
        assert t("error.partnerAccountExists") in text_of(exists)
        assert 'data-test="existing-account"' in exists.text
    assert accounts(database) == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_user_who_is_not_global_administrator_reads_the_seeds_refusal(
    language, contoso, stories, server, database
):
    t = lambda key, **params: translate(language, key, **params)  # noqa: E731
    stories.sign_up("bruno@fabrikam.com", "Bruno Petit")  # fabrikam.com: nobody manages it
    for email in ("alain@contoso.com", "bruno@fabrikam.com"):
        with sign_in(server, email) as person:
            person.cookies.set("lang", language)
            refused = person.get(ENROLL)
            assert refused.status_code == 403
            assert f'<html lang="{language}">' in refused.text
            page = text_of(refused)
            assert t("partner.not_admin.title") in page and t("partner.not_admin.hint") in page
            # Forging the wizard's form is refused the same way, and creates nothing.
            forged = person.post(
                ENROLL,
                data={
                    "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', refused.text)[1],
                    "step": "3",
                    "go": "finish",
                    "accept": "on",
                    "country": "FR",
                    "account_type": "company",
                    "publisher_name": "Mine",
                    "agreement_version": "tenantry-default-1",
                    **STEP_TWO,
                    "contact_name": "Someone",
                    "contact_email": email,
                },
            )
            assert forged.status_code == 403
            assert t("partner.not_admin.title") in text_of(forged)
            if email.startswith("alain"):
                # Whom to ask: contoso's Global Administrator.
                assert 'data-test="global-admins"' in page and "ariane@contoso.com" in page
            else:
                assert t("partner.not_admin.unmanaged", organization="fabrikam.com") in page
    assert accounts(database) == 0

    # The French page says it in seed 003's words.
    if language == "fr":
        assert t("partner.not_admin.title") == (
            "Nous n'avons pas pu valider votre identité en tant qu'administrateur général."
        )


def test_the_owner_changes_name_and_contact_and_resends_the_approval(
    ariane, stories, server, database, smtp
):
    walk = walk_to_review(ariane)
    assert wizard_step(ariane, walk, "finish", accept="on").status_code == 303
    first_link = LINK.search(smtp.wait_for("jean@contoso.com")[-1].body).group(1)
    stories.sign_up("admin@fabrikam.com", "Fabrikam Admin")
    make_global_admin(database, "admin@fabrikam.com")
    enroll(stories.client_for("admin@fabrikam.com"), "Fabrikam Labs")

    en = partial(translate, "en")
    form = ariane.get("/partner/edit")
    assert form.status_code == 200 and 'value="Contoso Labs"' in form.text
    assert 'name="country"' not in form.text  # never changes
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
    fields = {
        "csrf_token": token,
        "publisher_name": "Contoso Labs",
        "contact_name": "Ariane Dupont",
        "contact_email": "ariane@contoso.com",
        "contact_phone": "+33 1 42 68 53 00",
    }
    for changes, field, message in (
        ({"publisher_name": "y" * 51}, "publisher_name", en("error.publisherNameTooLong")),
        ({"publisher_name": "fabrikam LABS"}, "publisher_name", en("error.publisherNameTaken")),
        (
            {"contact_phone": "0"},
            "contact_phone",
            translate("en", "error.invalidPhoneNumber", field="Contact phone"),
        ),
    ):
        refused = ariane.post("/partner/edit", data={**fields, **changes})
        assert refused.status_code in (400, 409)
        assert field_error(refused, field) == message
    assert 'data-test="publisher">Contoso Labs<' in ariane.get("/partner").text

    saved = ariane.post(
        "/partner/edit",
        data={**fields, "publisher_name": "Contoso Studio", "contact_phone": "+32 2 555 12 12"},
    )
    assert saved.status_code == 303
    overview = ariane.get("/partner")
    assert notice_of(overview) == translate("en", "partner.updated")
    assert 'data-test="publisher">Contoso Studio<' in overview.text
    assert "+3225551212" in overview.text

    resent = ariane.post("/partner/resend", data={"csrf_token": token})
    assert resent.status_code == 303
    assert notice_of(ariane.get("/partner")) == translate(
        "en", "partner.resent", approver="Jean Martin"
    )
    mails = [m for m in smtp.wait_for("jean@contoso.com", count=3) if "Contoso" in m.subject]
    second_link = LINK.search(mails[-1].body).group(1)
    assert second_link != first_link
    with httpx.Client(base_url=server.url, timeout=30) as jean:
        old = jean.get(first_link)
        assert old.status_code == 404
        assert translate("en", "error.approvalLinkInvalid") in text_of(old)
        assert jean.get(second_link).status_code == 200

    # Alain may not edit; he reads the seed's refusal.
    with sign_in(server, "alain@contoso.com") as alain:
        assert alain.get("/partner/edit").status_code in (403, 404)
        program = alain.get("/partner")
        assert program.status_code == 200 and "Contoso Studio" not in program.text


def test_the_approver_page_speaks_the_accounts_language_and_links_expire(ariane, server, smtp):
    from tenantry.core.clock import clock

    ariane.cookies.set("lang", "nl")
    review = walk_to_review(ariane)
    assert wizard_step(ariane, review, "finish", accept="on").status_code == 303
    mail = smtp.wait_for("jean@contoso.com")[-1]
    assert mail.subject == "Bevestig het partneraccount Contoso Labs"
    path = LINK.search(mail.body).group(1)
    with httpx.Client(base_url=server.url, timeout=30) as jean:
        # Jean's browser says English; the account (and its email) speak Dutch.
        page = jean.get(path, headers={"Accept-Language": "en"})
        assert '<html lang="nl">' in page.text
        assert translate("nl", "partner.approval.confirm") in text_of(page)
        # Unless he switches.
        jean.cookies.set("lang", "fr")
        assert '<html lang="fr">' in jean.get(path).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        assert jean.post(path, data={"csrf_token": token}).status_code == 400  # no decision
        clock.advance(days=14, seconds=1)
        expired = jean.post(path, data={"csrf_token": token, "decision": "reject"})
        assert expired.status_code == 410
        assert translate("fr", "error.approvalLinkExpired") in text_of(expired)
        clock.reset()
        rejected = jean.post(path, data={"csrf_token": token, "decision": "reject"})
        assert rejected.status_code == 200
        assert translate("fr", "partner.approval.done.rejected", publisher="Contoso Labs") in (
            text_of(rejected)
        )
        assert jean.get("/partner/approvals/not-a-token").status_code == 404
    overview = ariane.get("/partner")
    assert 'data-state="rejected"' in overview.text
    assert translate("nl", "partner.state_meaning.rejected") in text_of(overview)
