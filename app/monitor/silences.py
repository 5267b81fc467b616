"""Silences: which alerts to keep off the banners for a while, matched by equality on the
alert's rule, severity, node, source or any of its labels."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from app.monitor.alert_record import SEVERITIES, AlertRecord, Source

MAX_SILENCE = timedelta(days=30)
# Names that match the alert's own fields; any other name matches a label.
FIELDS = ("rule", "severity", "node", "source")
MAX_MATCHERS = 20
MAX_VALUE_LENGTH = 256
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
CHOICES = {
    "severity": SEVERITIES,
    "source": tuple(source.value for source in Source),
}


class MatcherError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_matchers(raw: Any) -> dict[str, str]:
    """{"rule": "cpu", "team": "ops"}: every name must equal; refused with the field named."""
    if not isinstance(raw, dict):
        raise MatcherError("matchers", "'matchers' must be an object of names to values")
    if not raw:
        raise MatcherError("matchers", "'matchers' must name at least one field or label")
    if len(raw) > MAX_MATCHERS:
        raise MatcherError("matchers", f"'matchers' takes at most {MAX_MATCHERS} names")
    for name, value in raw.items():
        where = f"matchers.{name}"
        if not LABEL_NAME.fullmatch(name):
            raise MatcherError(
                "matchers", f"{name!r} is not a field or label name ([A-Za-z_][A-Za-z0-9_]*)"
            )
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE_LENGTH:
            raise MatcherError(
                where, f"'{where}' must be a string of 1-{MAX_VALUE_LENGTH} characters"
            )
        allowed = CHOICES.get(name)
        if allowed is not None and value not in allowed:
            raise MatcherError(where, f"'{where}' must be one of {', '.join(allowed)}")
    return dict(raw)


def alert_fields(record: AlertRecord) -> dict[str, str]:
    """What matchers see of an alert: its labels, then its own fields over them."""
    return {
        **record.labels,
        "rule": record.rule,
        "severity": record.level,
        "node": record.node,
        "source": record.source,
    }


def check_until(until: datetime, now: datetime) -> str | None:
    """Why a silence cannot end at `until`, or None."""
    if until <= now:
        return "'until' is in the past"
    if until > now + MAX_SILENCE:
        return f"'until' is more than {MAX_SILENCE.days} days ahead"
    return None


@dataclass(frozen=True)
class Silence:
    silence_id: str
    matchers: dict[str, str]
    starts_at: str
    ends_at: str
    by: str
    comment: str
    ended_at: str | None = None  # set when someone ended it before ends_at
    ended_by: str | None = None

    @property
    def ends(self) -> datetime:
        return datetime.fromisoformat(self.ends_at)

    def active_at(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.ends

    def matches(self, record: AlertRecord) -> bool:
        fields = alert_fields(record)
        return all(fields.get(name) == value for name, value in self.matchers.items())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
