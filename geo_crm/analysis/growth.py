"""Growth that compares like with like (issue 14): which two windows of days a growth figure
compares, for the ranking and the scorecard.

- a period wholly gone (a complete month or year) is compared whole: a month with the month
  before (``mom``, 环比) or with the same month a year earlier (``yoy``, 同比); a year with the
  year before (both);
- a period still running on ``as_of`` is compared *to date*: its days up to ``as_of`` against
  the same days of the month before (``mom``: 1–6 December against 1–6 November, the day
  clamped to a shorter month's last) or of the same period a year earlier (``yoy``); a year
  to date against the same days of the year before. On 6 December a whole November no longer
  stands against six days of December (every distributor read −80 %, or "no data" before its
  first delivery of the month);
- a period not begun on ``as_of`` compares nothing (both windows empty).

``growth = (now − before) / before``; None when nothing was bought in the earlier window.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from .plans import Period

COMPARISONS = ("mom", "yoy")


def _clamped(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def month_before(day: dt.date) -> dt.date:
    """The same day of the month before (clamped: 31 March → 28/29 February)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return _clamped(year, month, day.day)


def year_before(day: dt.date) -> dt.date:
    """The same day a year earlier (29 February → 28 February)."""
    return _clamped(day.year - 1, day.month, day.day)


@dataclass(frozen=True)
class Comparison:
    compare: str  # "mom" | "yoy"
    start: dt.date  # the window measured, first and last day
    end: dt.date
    before_start: dt.date  # the window it is compared with
    before_end: dt.date
    to_date: bool  # the period runs on: both windows end on the same day of their month/year

    def to_dict(self) -> dict:
        return {
            "compare": self.compare,
            "to_date": self.to_date,
            "start": self.start,
            "end": self.end,
            "before_start": self.before_start,
            "before_end": self.before_end,
        }


def comparison(period: Period, as_of: dt.date, compare: str = "mom") -> Comparison:
    """The two windows a growth over ``period`` compares on ``as_of`` (module docstring)."""
    if compare not in COMPARISONS:
        raise ValueError(f"compare is one of {', '.join(COMPARISONS)}")
    start, end = period.start, period.last_day
    to_date = start <= as_of < end
    if to_date:
        end = as_of
    if period.kind == "month" and compare == "mom":
        before_start = month_before(start)
        before_end = month_before(end) if to_date else start - dt.timedelta(days=1)
    else:  # a year ago (a year's "period before" is the year before too)
        before_start = year_before(start)
        before_end = year_before(end)
        if not to_date and period.kind == "month":
            before_end = _clamped(before_start.year, before_start.month, 31)
    if as_of < start:  # not begun: nothing to compare (empty windows)
        end, before_end = start - dt.timedelta(days=1), before_start - dt.timedelta(days=1)
    return Comparison(compare, start, end, before_start, before_end, to_date)


def growth(now, before) -> float | None:
    """(now − before) / before; None when nothing was there before."""
    if before is None or not before:
        return None
    return float(now - before) / float(before)
