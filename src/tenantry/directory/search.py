"""Text keys for sorting and searching names: case- and accent-folded, word terms, prefix ranges.

Searching "dup" must find "Ariane Dupont" through an index on both SQLite and
PostgreSQL, where `LIKE '%dup%'` scans the table and `lower()` differs between
the two (SQLite folds ASCII only). So the folding happens here, in Python, once
per write: a user keeps a folded `display_name_key` (what lists sort by and
`startswith(displayName, …)` compares), and each folded word of their name and
address is a row of a search-term table. A search is then a range scan
`term >= 'dup' AND term < 'duq'` on an index. The key columns use the "C"
collation on PostgreSQL so that ranges follow code points, as on SQLite.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import String
from sqlalchemy.types import TypeEngine

KEY_LENGTH = 256
TERM_LENGTH = 128
MAX_TERMS = 32
_WORD = re.compile(r"\w+")

# Term kinds.
NAME = "d"  # words of a display name
ADDRESS = "m"  # a whole address or nickname, and the words of its local part


def ordered_string(length: int) -> TypeEngine[str]:
    """A string column compared by code point on every database (binary collation)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a text: "Élodie" → "elodie"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def sort_key(text: str) -> str:
    """The folded text as stored in a key column."""
    return fold(text)[:KEY_LENGTH]


def words(text: str) -> list[str]:
    """The folded words of a text, in order, without repeats."""
    found = dict.fromkeys(w[:TERM_LENGTH] for w in _WORD.findall(fold(text)))
    return list(found)


def name_terms(name: str | None) -> set[str]:
    """Search terms of a display name: its words."""
    return set(words(name or "")[:MAX_TERMS])


def address_terms(*addresses: str | None) -> set[str]:
    """Search terms of addresses: each whole address and the words of its local part."""
    terms: set[str] = set()
    for address in addresses:
        if not address:
            continue
        folded = fold(address)
        terms.add(folded[:TERM_LENGTH])
        terms.update(words(folded.split("@", 1)[0])[:MAX_TERMS])
    return terms


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            following = 0xE000 if last == 0xD7FF else last + 1  # skip the surrogates
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None
