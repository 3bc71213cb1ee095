"""Working hours: when a referral is due, counting only the service's working time (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# More than enough for any target: ten years of days with no working time means a bad calendar.
_MAX_DAYS = 3660


@dataclass(frozen=True)
class WorkingHours:
    """Mon–Fri 09:00–17:00 Europe/London by default; bank holidays can be listed."""

    zone: str = "Europe/London"
    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.weekdays or self.start >= self.end:
            raise ValueError("working hours need at least one weekday and start before end")
        ZoneInfo(self.zone)  # fail early on an unknown zone

    def _period(self, day: date) -> tuple[datetime, datetime] | None:
        """The working period of a local date in UTC, or None on a day off."""
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        zone = ZoneInfo(self.zone)
        start = datetime.combine(day, self.start, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)
        return start, end

    def _days(self, moment: datetime, step: int) -> Iterator[tuple[datetime, datetime]]:
        day = moment.astimezone(ZoneInfo(self.zone)).date()
        for _ in range(_MAX_DAYS):
            period = self._period(day)
            if period is not None:
                yield period
            day += timedelta(days=step)
        raise ValueError("no working time found within ten years")

    def due(self, start: datetime, work: timedelta) -> datetime:
        """The moment `work` of working time after `start` has passed (UTC).

        A referral arriving at the weekend starts counting on Monday at 09:00; one whose time
        runs out exactly at 17:00 is due at 17:00, not the next morning.
        """
        _aware(start)
        if work <= timedelta(0):
            return start.astimezone(UTC)
        remaining = work
        for period_start, period_end in self._days(start, +1):
            begin = max(start, period_start)
            if begin >= period_end:
                continue
            available = period_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable")

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero if `end` is not after `start`)."""
        _aware(start)
        _aware(end)
        total = timedelta(0)
        if end <= start:
            return total
        for period_start, period_end in self._days(start, +1):
            if period_start >= end:
                return total
            begin, finish = max(start, period_start), min(end, period_end)
            if finish > begin:
                total += finish - begin
        raise AssertionError("unreachable")

    def overdue_cutoff(self, now: datetime, work: timedelta) -> tuple[datetime, bool]:
        """Where overdue starts: `due(t, work) < now` exactly when `t` is before the cutoff
        (or equal to it, when the flag says inclusive). Lets a database filter overdue rows
        with one comparison on their creation time."""
        _aware(now)
        if work <= timedelta(0):
            return now.astimezone(UTC), False
        remaining = work
        found: datetime | None = None
        for period_start, period_end in self._days(now, -1):
            if found is not None:
                # The work ran out exactly at a period start whose due time is now itself:
                # the gap before it shares that due time, so overdue starts before the end of
                # the previous period.
                cutoff = period_end
                break
            finish = min(now, period_end)
            if finish <= period_start:
                continue
            available = finish - period_start
            if remaining < available:
                cutoff = finish - remaining
                break
            if remaining == available:
                if self.due(period_start, work) < now:
                    cutoff = period_start
                    break
                found = period_start
                continue
            remaining -= available
        return cutoff, self.due(cutoff, work) < now


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware datetime")
