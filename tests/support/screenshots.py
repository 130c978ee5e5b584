"""Screenshots for docs/screenshots/: the same picture on every run, so git shows no change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def example_values(page: Any, values: dict[str, str]) -> Iterator[None]:
    """Show fixed example text in the elements of each CSS selector (a random token, a
    generated password) while a screenshot is taken, then put the real text back."""
    originals = {
        selector: page.locator(selector).evaluate_all(
            "(elements, text) => elements.map(e => { const was = e.textContent;"
            " e.textContent = text; return was; })",
            text,
        )
        for selector, text in values.items()
    }
    try:
        yield
    finally:
        for selector, texts in originals.items():
            page.locator(selector).evaluate_all(
                "(elements, texts) => elements.forEach((e, i) => { e.textContent = texts[i]; })",
                texts,
            )
