"""The one source of "now", which tests can move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock UTC time plus an offset that tests (never production) may advance."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        """Move time forward, e.g. `advance(days=61)`."""
        self.offset += timedelta(**delta)

    def reset(self) -> None:
        """Back to wall-clock time."""
        self.offset = timedelta(0)


clock = Clock()
