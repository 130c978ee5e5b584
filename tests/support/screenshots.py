"""Screenshots for docs/screenshots/, written there only when asked.

A run of the suite leaves the tree as it was: the browser tests still take every picture
(so a page that cannot be drawn fails), but into a temporary folder. With
`TENANTRY_UPDATE_SCREENSHOTS=1` they replace the pictures in docs/screenshots/; example
values (below) keep random tokens and dates out of them, so a rerun changes little.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
UPDATE_ENV = "TENANTRY_UPDATE_SCREENSHOTS"


def screenshots_folder() -> Path:
    """docs/screenshots/ when `TENANTRY_UPDATE_SCREENSHOTS=1`, else a folder of this run's."""
    if os.environ.get(UPDATE_ENV) == "1":
        folder = DOCS_SCREENSHOTS
    else:
        folder = Path(tempfile.gettempdir()) / f"tenantry-screenshots-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page: Any, name: str, **options: Any) -> Path:
    """Take the page's picture as `name` (PNG) into `screenshots_folder()`; options go to
    Playwright's `page.screenshot` (full_page, clip)."""
    path = screenshots_folder() / name
    page.screenshot(path=str(path), **options)
    return path


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
