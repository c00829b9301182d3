"""Schedule expressions: ``rate(5 minutes)`` and ``cron(0 12 * * ? *)``, as AWS reads them.

The syntax is EventBridge's
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):

* ``rate(value unit)``: a positive whole number and ``minute``/``hour``/``day``, singular
  when the value is 1 and plural otherwise (``rate(1 minutes)`` is refused).
* ``cron(minutes hours day-of-month month day-of-week year)``: six fields. One of the two
  day fields must be ``?``. Day-of-month takes ``L`` (last day) and ``nW`` (weekday
  nearest day n); day-of-week takes ``L``, ``nL`` (last weekday n of the month) and
  ``n#k`` (k-th weekday n). Day-of-week counts 1-7 from **Sunday** (SUN-SAT), unlike
  Unix cron's 0-6.

A valid expression is also bounded, so that every rule it makes can be armed: the whole
expression is at most 256 characters (botocore's ``ScheduleExpression`` shape), a rate's
period at most :data:`lambdalab.quotas.EVENTS_RATE_PERIOD_MAX_S` (AWS publishes no
maximum; this is lambdalab's), and a cron step at most the largest value of its field
(``0/99999999999999`` is refused).

Validation is strict and ours; matching is croniter's, on a translated expression (its
day-of-week counts from 0 and writes "last Friday" as ``L5``). The whole expression is
evaluated in UTC, as EventBridge rules are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from croniter import CroniterBadDateError, croniter


from . import quotas
from .exceptions import ValidationException

_RATE = re.compile(r"^rate\((?P<value>[0-9]+) (?P<unit>minutes?|hours?|days?)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def invalid() -> ValidationException:
    return ValidationException("Parameter ScheduleExpression is not valid.")


@dataclass(frozen=True)
class Rate:
    """``rate(N unit)``: every ``seconds``, counted from ``anchor`` (when the rule was set)."""

    seconds: int

    def next_after(self, moment: float, anchor: float, zone: tzinfo = timezone.utc) -> float | None:
        periods = math.floor((moment - anchor) / self.seconds) + 1
        return anchor + periods * self.seconds


@dataclass(frozen=True)
class Cron:
    """``cron(...)``: the croniter expression it translates to (minute … day-of-week, year)."""

    croniter_expression: str

    def next_after(self, moment: float, anchor: float, zone: tzinfo = timezone.utc) -> float | None:
        """The next firing after ``moment``, the fields read as wall-clock times in
        ``zone`` (EventBridge rules: UTC; Scheduler: the schedule's time zone)."""
        start = datetime.fromtimestamp(moment, tz=zone)
        try:
            return float(croniter(self.croniter_expression, start).get_next(float))
        except CroniterBadDateError:  # the years it names are over: it never fires again
            return None


Schedule = Rate | Cron


def parse(expression: str) -> Schedule:
    """The schedule ``expression`` describes; ValidationException when AWS would refuse it."""
    if not isinstance(expression, str) or len(expression) > quotas.EVENTS_SCHEDULE_EXPRESSION_MAX:
        raise invalid()
    if rate := _RATE.match(expression):
        return _rate(int(rate["value"]), rate["unit"])
    if cron := _CRON.match(expression):
        return _cron(cron["fields"].split(" "))
    raise invalid()


def _rate(value: int, unit: str) -> Rate:
    singular = unit.rstrip("s")
    if value < 1 or (value == 1) != (unit == singular):
        raise invalid()
    seconds = value * _UNIT_SECONDS[singular]
    if seconds > quotas.EVENTS_RATE_PERIOD_MAX_S:
        raise invalid()
    return Rate(seconds)


# -- cron ---------------------------------------------------------------------------------


def _whole(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


@dataclass(frozen=True)
class _Field:
    """A reader of one value of a field: a whole number in range, or a name (JAN, SUN)."""

    low: int
    high: int
    names: tuple[str, ...] = ()

    def __call__(self, text: str) -> int:
        if text.upper() in self.names:
            return self.names.index(text.upper()) + self.low
        if not _whole(text) or not self.low <= int(text) <= self.high:
            raise invalid()
        return int(text)


_MINUTE = _Field(0, 59)
_HOUR = _Field(0, 23)
_DAY = _Field(1, 31)
_MONTH = _Field(1, 12, _MONTHS)
_WEEKDAY = _Field(1, 7, _DAYS)
_YEAR = _Field(1970, 2199)


def _plain(field: str, read: _Field, shift: int = 0) -> str:
    """A field of lists, ranges, ``*`` and steps, checked and with values moved by ``shift``.

    A step is at most the field's largest value: a longer one could never be taken twice.
    """
    out = []
    for item in field.split(","):
        base, _, step = item.partition("/")
        if step and (not _whole(step) or not 1 <= int(step) <= read.high):
            raise invalid()
        if base == "*":
            translated = "*"
        else:
            low, dash, high = base.partition("-")
            ends = [read(low)] + ([read(high)] if dash else [])
            translated = "-".join(str(end + shift) for end in ends)
        out.append(translated + (f"/{step}" if step else ""))
    return ",".join(out)


def _day_of_month(field: str) -> str:
    if field in ("?", "L"):
        return "*" if field == "?" else "L"
    if len(field) > 1 and field.endswith("W"):
        return f"{_DAY(field[:-1])}W"
    return _plain(field, _DAY)


def _day_of_week(field: str) -> str:
    """AWS's 1-7 (SUN-SAT) as croniter's 0-6; ``nL`` becomes croniter's ``L(n-1)``."""
    if field == "?":
        return "*"
    if field == "L":
        return "6"  # the last day of the week: Saturday
    if len(field) > 1 and field.endswith("L"):
        return f"L{_WEEKDAY(field[:-1]) - 1}"
    day, hash_, nth = field.partition("#")
    if hash_:
        if not _whole(nth) or not 1 <= int(nth) <= 5:
            raise invalid()
        return f"{_WEEKDAY(day) - 1}#{nth}"
    return _plain(field, _WEEKDAY, shift=-1)


def _cron(fields: list[str]) -> Cron:
    if len(fields) != 6 or not all(fields):
        raise invalid()
    minute, hour, day, month, weekday, year = fields
    if (day == "?") == (weekday == "?"):
        raise invalid()  # exactly one of the day fields must be "?"
    translated = " ".join(
        (
            _plain(minute, _MINUTE),
            _plain(hour, _HOUR),
            _day_of_month(day),
            _plain(month, _MONTH),
            _day_of_week(weekday),
            "0",  # croniter's seconds field
            _plain(year, _YEAR),
        )
    )
    if not croniter.is_valid(translated):
        raise invalid()
    return Cron(translated)
