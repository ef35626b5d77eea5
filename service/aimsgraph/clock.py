"""The one place that reads the wall clock.

Everything that judges a record against time (validation, due items, staleness, monitoring
coverage, readiness, the review pack) is computed *as of* an evaluation date that the caller
passes in: CLI ``--as-of``, API ``asOf=``. When the caller gives none, the default comes from
:func:`today`. Shapes and named queries never call SPARQL ``NOW()``; a test enforces that this
module is the only reader of the clock.

``AIMSGRAPH_TODAY=YYYY-MM-DD`` pins the default evaluation date for a whole process, for
reproducible audits and demos (and for the test suite, so that no test depends on the day it
runs). Event timestamps (the audit trail, ``prov:generatedAtTime``) always use :func:`now`: they
record when something happened, not the date a record is judged for.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime

from aimsgraph.errors import InvalidInput

TODAY_VARIABLE = "AIMSGRAPH_TODAY"
#: Evaluation dates outside these bounds are refused: date arithmetic (review windows, periods
#: under review) must stay within what Python's dates can hold.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def now() -> datetime:
    """The current moment, UTC: for timestamps of events."""
    return datetime.now(UTC)


def today() -> date:
    """The default evaluation date: ``AIMSGRAPH_TODAY`` if set, else today's UTC date."""
    pinned = os.environ.get(TODAY_VARIABLE, "").strip()
    if not pinned:
        return now().date()
    return parse_date(pinned, TODAY_VARIABLE)


def as_of(day: date | None) -> date:
    """``day``, or the default evaluation date when the caller gave none."""
    return today() if day is None else day


def parse_date(text: str, name: str = "asOf") -> date:
    """An ISO 8601 calendar date (YYYY-MM-DD) between EARLIEST and LATEST; InvalidInput otherwise."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date such as 2026-11-26, not {text!r}") from None
    if not EARLIEST <= day <= LATEST:
        raise InvalidInput(f"{name} must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}, not {text!r}")
    return day


def as_of_argument(text: str | None, name: str = "asOf") -> date:
    """The evaluation date a request or command asked for; today when it gave none."""
    return today() if text is None or not text.strip() else parse_date(text, name)
