"""Days on a calendar. Stamps are int ns since the Unix epoch with the home's local time taken as UTC, so
day d starts at ``start_date + d days, 00:00`` and weekdays are real ("last Monday" means something)."""
from __future__ import annotations

import datetime as _dt

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Calendar:
    """Maps (day index, time of day) <-> stamps. Day 0 is ``start_date``."""

    def __init__(self, start_date: str):
        self.start_date = _dt.date.fromisoformat(start_date)
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        start = _dt.datetime(self.start_date.year, self.start_date.month, self.start_date.day,
                             tzinfo=_dt.timezone.utc)
        self.start_ns = int((start - epoch).total_seconds()) * NS_PER_S

    def day_start_ns(self, day: int) -> int:
        return self.start_ns + int(day) * NS_PER_DAY

    def stamp_ns(self, day: int, time_of_day_s: float) -> int:
        return self.day_start_ns(day) + int(round(time_of_day_s * NS_PER_S))

    def day_of(self, t_ns: int) -> int:
        """Day index containing ``t_ns`` (negative before day 0)."""
        return (int(t_ns) - self.start_ns) // NS_PER_DAY

    def time_of_day_s(self, t_ns: int) -> float:
        return ((int(t_ns) - self.start_ns) % NS_PER_DAY) / NS_PER_S

    def date(self, day: int) -> _dt.date:
        return self.start_date + _dt.timedelta(days=int(day))

    def weekday(self, day: int) -> int:
        """0 = Monday ... 6 = Sunday."""
        return self.date(day).weekday()

    def weekday_name(self, day: int) -> str:
        return WEEKDAY_NAMES[self.weekday(day)]

    def is_weekend(self, day: int) -> bool:
        return self.weekday(day) >= 5

    def describe(self, t_ns: int) -> str:
        """e.g. 'Tue 2025-03-04 10:15:00 (day 1)'."""
        d = self.day_of(t_ns)
        s = int(self.time_of_day_s(t_ns))
        return (f"{self.weekday_name(d)[:3]} {self.date(d).isoformat()} "
                f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} (day {d})")
