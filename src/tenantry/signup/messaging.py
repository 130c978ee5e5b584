"""Emails of the sign-up flow."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import translate
from tenantry.core.mail import enqueue
from tenantry.signup.models import Signup


def send_code(*, db_session: AsyncSession, signup: Signup, code: str, minutes: int) -> None:
    """The one-time code that proves the person owns the address."""
    lang = signup.language
    enqueue(
        db_session,
        recipient=signup.email,
        subject=translate(lang, "mail.signup_code.subject", code=code),
        body_text=translate(
            lang,
            "mail.signup_code.body",
            name=signup.display_name,
            code=code,
            minutes=minutes,
        ),
    )
