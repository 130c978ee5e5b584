"""Keyset paging tokens (`$skiptoken`): a small flat JSON object in URL-safe base64.

A token comes back from the caller, so decoding trusts nothing: any text that is
not one of these objects (bad base64, bytes that are not UTF-8, JSON nested too
deep to read, a list, a `\ud800` escape that decodes to a lone surrogate…)
decodes to None, for the caller to refuse in its own words.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def encode_token(payload: dict[str, Any]) -> str:
    """The token of `payload` (JSON values only), without base64 padding."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    """The object a token holds (padded or not), or None when it holds none."""
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode())
        payload = json.loads(raw)
        # A lone surrogate is a str to Python but not text: neither database can take it
        # as a parameter (a 500), so a token holding one anywhere holds nothing.
        json.dumps(payload, ensure_ascii=False).encode()
    except (ValueError, binascii.Error, RecursionError):  # UnicodeError is a ValueError
        return None
    return payload if isinstance(payload, dict) else None
