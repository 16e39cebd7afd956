"""Budget periods: a day, a week (from Monday) or a month, each resetting at a stated time of day in a
stated time zone. Pure functions of a moment; the windows are half-open ``[start, end)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Window:
    kind: PeriodKind
    label: str  # 2026-11, 2026-W47, 2026-11-25 (in the budget's time zone)
    start: datetime  # UTC
    end: datetime  # UTC: when the budget resets

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Period:
    kind: PeriodKind = "month"
    resets_at: time = time(0, 0)
    timezone: str = "UTC"

    def window(self, moment: datetime) -> Window:
        """The period that ``moment`` falls in."""
        tz = ZoneInfo(self.timezone)
        local = moment.astimezone(tz)
        start = self._start_on_or_before(local, tz)
        end = self._next(start, tz)
        window = Window(self.kind, self._label(start), start.astimezone(UTC), end.astimezone(UTC))
        if window.start.minute or window.start.second or window.start.microsecond:
            # Spend is rolled up per UTC hour; a reset between two hours would split one.
            raise ValueError(f"a budget period must reset on a whole UTC hour; {self.resets_at:%H:%M} in {self.timezone} is {window.start:%H:%M} UTC")
        return window

    def _at(self, day: datetime, tz: ZoneInfo) -> datetime:
        return datetime.combine(day.date(), self.resets_at, tzinfo=tz)

    def _start_on_or_before(self, local: datetime, tz: ZoneInfo) -> datetime:
        if self.kind == "day":
            candidate = self._at(local, tz)
            return candidate if candidate <= local else self._at(local - timedelta(days=1), tz)
        if self.kind == "week":
            monday = local - timedelta(days=local.weekday())
            candidate = self._at(monday, tz)
            return candidate if candidate <= local else self._at(monday - timedelta(days=7), tz)
        first = self._at(local.replace(day=1), tz)
        if first <= local:
            return first
        previous = (local.replace(day=1) - timedelta(days=1)).replace(day=1)
        return self._at(previous, tz)

    def _next(self, start: datetime, tz: ZoneInfo) -> datetime:
        if self.kind == "day":
            return self._at(start + timedelta(days=1), tz)
        if self.kind == "week":
            return self._at(start + timedelta(days=7), tz)
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return self._at(following, tz)

    def _label(self, start: datetime) -> str:
        if self.kind == "day":
            return start.strftime("%Y-%m-%d")
        if self.kind == "week":
            year, week, _ = start.isocalendar()
            return f"{year}-W{week:02d}"
        return start.strftime("%Y-%m")

    def describe(self) -> str:
        return f"{self.kind}ly, resetting at {self.resets_at:%H:%M} {self.timezone}".replace("dayly", "daily")
