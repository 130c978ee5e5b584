"""Emails of the sign-up flow."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.mail import Priority, enqueue_translated
from tenantry.signup.models import Signup


def send_code(*, db_session: AsyncSession, signup: Signup, code: str, minutes: int) -> None:
    """The one-time code that proves the person owns the address."""
    enqueue_translated(
        db_session,
        priority=Priority.URGENT,
        recipient=signup.email,
        language=signup.language,
        message="signup_code",
        name=signup.display_name,
        code=code,
        minutes=minutes,
    )
