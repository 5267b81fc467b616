"""Alertmanager's webhook (payload version 4): each alert, keyed by its fingerprint, is
raised, updated or resolved on the alert board like livewatch's own.

The payload is checked field by field, and a bad one is refused naming the field, such as
`alerts[0].labels.alertname`. Fields livewatch does not use are allowed, so that a newer
Alertmanager's additions do not break the receiver.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app.monitor.alert_board import AlertBoard
from app.monitor.alert_record import AlertRecord, AlertState, Severity, Source
from app.timeutil import rfc3339, utc_now

log = logging.getLogger(__name__)

VERSION = "4"
STATUSES = tuple(state.value for state in AlertState)
MAX_MESSAGE = 500
# Alertmanager writes the zero time as endsAt of a firing alert.
NO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class PayloadError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Notice:
    """One alert of a notification."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str


@dataclass(frozen=True)
class Notification:
    status: str
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Notice, ...]


def _get(body: dict[str, Any], name: str, where: str, kind: type, required: bool = True) -> Any:
    field = f"{where}{name}"
    if name not in body:
        if required:
            raise PayloadError(field, f"'{field}' is required")
        return None
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PayloadError(field, f"'{field}' must be {_KINDS[kind]}")
    return value


_KINDS = {str: "a string", dict: "an object", list: "a list", int: "an integer"}


def _strings(body: dict[str, Any], name: str, where: str, required: bool = True) -> dict[str, str]:
    value = _get(body, name, where, dict, required)
    if value is None:
        return {}
    for key, item in value.items():
        if not isinstance(item, str):
            field = f"{where}{name}.{key}"
            raise PayloadError(field, f"'{field}' must be a string")
    return dict(value)


def _time(body: dict[str, Any], name: str, where: str) -> datetime:
    field = f"{where}{name}"
    raw = _get(body, name, where, str)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(field, f"'{field}' must be an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise PayloadError(field, f"'{field}' must be an RFC 3339 time with a time zone")
    return moment


def _notice(raw: Any, index: int) -> Notice:
    where = f"alerts[{index}]."
    if not isinstance(raw, dict):
        raise PayloadError(f"alerts[{index}]", f"'alerts[{index}]' must be an object")
    status = _get(raw, "status", where, str)
    if status not in STATUSES:
        raise PayloadError(where + "status", f"'{where}status' must be firing or resolved")
    labels = _strings(raw, "labels", where)
    if not labels.get("alertname"):
        raise PayloadError(where + "labels.alertname", f"'{where}labels.alertname' is required")
    fingerprint = _get(raw, "fingerprint", where, str)
    if not fingerprint or len(fingerprint) > 64 or not fingerprint.isalnum():
        raise PayloadError(
            where + "fingerprint", f"'{where}fingerprint' must be 1-64 letters and digits"
        )
    ends_at = _time(raw, "endsAt", where)
    return Notice(
        status=status,
        labels=labels,
        annotations=_strings(raw, "annotations", where),
        starts_at=_time(raw, "startsAt", where),
        ends_at=None if ends_at <= NO_TIME else ends_at,
        generator_url=_get(raw, "generatorURL", where, str),
        fingerprint=fingerprint,
    )


def parse_notification(body: Any) -> Notification:
    """A webhook body, checked; PayloadError names the first field that is wrong."""
    if not isinstance(body, dict):
        raise PayloadError("body", "the body must be a JSON object")
    version = _get(body, "version", "", str)
    if version != VERSION:
        raise PayloadError("version", f"'version' must be \"{VERSION}\", not {version!r}")
    status = _get(body, "status", "", str)
    if status not in STATUSES:
        raise PayloadError("status", "'status' must be firing or resolved")
    truncated = _get(body, "truncatedAlerts", "", int, required=False) or 0
    if truncated < 0:
        raise PayloadError("truncatedAlerts", "'truncatedAlerts' must not be negative")
    alerts = _get(body, "alerts", "", list)
    return Notification(
        status=status,
        receiver=_get(body, "receiver", "", str),
        group_key=_get(body, "groupKey", "", str),
        # Not used by livewatch: checked when present, not required.
        group_labels=_strings(body, "groupLabels", "", required=False),
        common_labels=_strings(body, "commonLabels", "", required=False),
        common_annotations=_strings(body, "commonAnnotations", "", required=False),
        external_url=_get(body, "externalURL", "", str, required=False) or "",
        truncated_alerts=truncated,
        alerts=tuple(_notice(alert, index) for index, alert in enumerate(alerts)),
    )


def level_of(labels: dict[str, str]) -> str:
    """`severity="critical"` is critical; any other severity, or none, is a warning (the
    label itself is kept and shown)."""
    severity = labels.get("severity", "").lower()
    return Severity.CRITICAL.value if severity == "critical" else Severity.WARNING.value


def message_of(notice: Notice) -> str:
    text = (
        notice.annotations.get("summary")
        or notice.annotations.get("description")
        or notice.labels["alertname"]
    )
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "\u2026"


def safe_url(url: str) -> str:
    """Only http(s) links are kept: the page turns this into a link."""
    return url if urlsplit(url).scheme in ("http", "https") else ""


class AlertmanagerReceiver:
    def __init__(self, board: AlertBoard) -> None:
        self.board = board

    async def receive(self, notification: Notification) -> dict[str, int]:
        """Apply every alert of a notification; how many were raised, updated, resolved,
        unchanged (a repeat) or ignored (resolved, and never seen firing)."""
        counts: Counter[str] = Counter(
            {"raised": 0, "updated": 0, "resolved": 0, "unchanged": 0, "ignored": 0}
        )
        if notification.truncated_alerts:
            log.warning(
                "Alertmanager left %d alerts of group %s out of its notification (max_alerts)",
                notification.truncated_alerts,
                notification.group_key,
            )
        for notice in notification.alerts:
            counts[await self.apply(notice)] += 1
        return dict(counts)

    async def apply(self, notice: Notice) -> str:
        current = self.board.current(Source.ALERTMANAGER, notice.fingerprint)
        now = utc_now()
        if notice.status == AlertState.RESOLVED:
            if current is None:
                return "ignored"
            ended = min(notice.ends_at or now, now)
            resolved = replace(current, state=AlertState.RESOLVED.value, timestamp=rfc3339(ended))
            await self.board.record(resolved)
            return "resolved"
        record = AlertRecord(
            alert_id=current.alert_id if current else uuid.uuid4().hex,
            rule=notice.labels["alertname"],
            metric="",
            level=level_of(notice.labels),
            state=AlertState.FIRING.value,
            message=message_of(notice),
            value=None,
            threshold=None,
            timestamp=rfc3339(now),
            source=Source.ALERTMANAGER.value,
            key=notice.fingerprint,
            node=notice.labels.get("node") or notice.labels.get("instance") or "",
            started_at=rfc3339(notice.starts_at),
            labels=notice.labels,
            annotations=notice.annotations,
            generator_url=safe_url(notice.generator_url),
        )
        if current is not None and _same(current, record):
            return "unchanged"
        await self.board.record(record)
        return "updated" if current is not None else "raised"


def _same(a: AlertRecord, b: AlertRecord) -> bool:
    """A repeat notification: nothing the page shows has changed."""
    return {**a.as_dict(), "timestamp": ""} == {**b.as_dict(), "timestamp": ""}
