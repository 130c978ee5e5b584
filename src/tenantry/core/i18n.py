"""Translations (English, French, Dutch) and the choice of language for a request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "fr", "nl")
DEFAULT_LANGUAGE = "en"


@cache
def catalog(language: str) -> dict[str, str]:
    """The messages of one language."""
    text = resources.files("tenantry").joinpath(f"translations/{language}.json").read_text("utf-8")
    return json.loads(text)


def translate(language: str, key: str, /, **params: Any) -> str:
    """The message `key` in `language` (English when missing there), formatted with params."""
    template = catalog(language).get(key) if language in LANGUAGES else None
    if template is None:
        template = catalog(DEFAULT_LANGUAGE).get(key, key)
    return template.format(**params) if params else template


def has_message(key: str) -> bool:
    """Whether a message key exists (used to translate error codes)."""
    return key in catalog(DEFAULT_LANGUAGE)


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The language to use: the person's choice, else the best of Accept-Language, else English."""
    if preferred in LANGUAGES:
        return preferred
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT_LANGUAGE


def format_date(language: str, value: datetime | None) -> str:
    """A day as people write it in `language` ("12 May 2026"), in UTC."""
    if value is None:
        return ""
    moment = value.astimezone(UTC) if value.tzinfo else value
    month = translate(language, f"web.month.{moment.month}")
    return translate(language, "web.date", day=moment.day, month=month, year=moment.year)
