"""Shifting DA / DT / TM values by one per-patient offset so intervals survive and the real dates do not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")
_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")


@dataclass(frozen=True)
class DateShift:
    """Move every date back by `days`, and date-times and times of day back by `days` and `seconds`."""

    days: int
    seconds: int

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.days, seconds=self.seconds)

    def date(self, value: str) -> str | None:
        """A DA value (also ACR-NEMA `YYYY.MM.DD`) moved back by whole days; None when it is not a date."""
        parsed = _parse_date(value)
        return None if parsed is None else (parsed - timedelta(days=self.days)).strftime("%Y%m%d")

    def time(self, value: str) -> str | None:
        """A TM value (also ACR-NEMA `HH:MM:SS`) moved back by `seconds`, wrapping at midnight."""
        parsed = _parse_time(value)
        if parsed is None:
            return None
        moment, fraction_digits = parsed
        return _format_time(moment - timedelta(seconds=self.seconds), fraction_digits)

    def date_and_time(self, date_value: str, time_value: str) -> tuple[str, str] | None:
        """A (DA, TM) pair of one event moved back together, so the pair still names one instant."""
        day, parsed = _parse_date(date_value), _parse_time(time_value)
        if day is None or parsed is None:
            return None
        clock, fraction_digits = parsed
        moment = datetime.combine(day, clock.time()).replace(microsecond=clock.microsecond) - self.delta
        return moment.strftime("%Y%m%d"), _format_time(moment, fraction_digits)

    def datetime(self, value: str) -> str | None:
        """A DT value (any precision, fractions, UTC offset kept) moved back; None when it is not a DT."""
        match = _DT.match(value.strip())
        if not match:
            return None
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        try:
            moment = datetime(
                int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
                int((fraction or ".0")[1:].ljust(6, "0")),
            ) - self.delta
        except ValueError:
            return None
        text = moment.strftime("%Y%m%d%H%M%S")[: 4 + 2 * sum(part is not None for part in (month, day, hour, minute, second))]
        if fraction:
            text += "." + f"{moment.microsecond:06d}"[: len(fraction) - 1]
        return text + (offset or "")


def _parse_date(value: str) -> date | None:
    text = value.strip().replace(".", "")
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _parse_time(value: str) -> tuple[datetime, int] | None:
    match = _TM.match(value.strip().replace(":", ""))
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(2000, 1, 2, int(hour), int(minute or 0), int(second or 0), int((fraction or ".0")[1:].ljust(6, "0")))
    except ValueError:
        return None
    return moment, (len(fraction) - 1 if fraction else 0)


def _format_time(moment: datetime, fraction_digits: int) -> str:
    text = moment.strftime("%H%M%S")
    return text + ("." + f"{moment.microsecond:06d}"[:fraction_digits] if fraction_digits else "")
