"""The event catalogue, routing, and the broadcaster that publishes an event on its channels."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.channels import GLOBAL, SYSTEM, business_channel, user_channel
from app.hub import protocol
from app.hub.broker import Broker
from app.hub.metrics import HubMetrics
from app.timeutil import now_rfc3339

log = logging.getLogger(__name__)


class EventType(StrEnum):
    """Every built-in event type, with how the page shows it (its label, tone and glyph)."""

    label: str
    tone: str
    glyph: str

    def __new__(cls, value: str, label: str, tone: str, glyph: str) -> EventType:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.tone = tone
        member.glyph = glyph
        return member

    BUSINESS_CREATED = ("business.created", "Business created", "business", "+")
    BUSINESS_UPDATED = ("business.updated", "Business updated", "business", "\u270e")
    BUSINESS_STAGE_CHANGED = (
        "business.stage_changed",
        "Business stage changed",
        "business",
        "\u00bb",
    )
    TASK_STARTED = ("task.started", "Task started", "info", "\u25b6")
    TASK_COMPLETED = ("task.completed", "Task completed", "success", "\u2713")
    TASK_FAILED = ("task.failed", "Task failed", "danger", "\u2717")
    PLAYBOOK_STARTED = ("playbook.started", "Playbook started", "info", "\u25b7")
    PLAYBOOK_COMPLETED = ("playbook.completed", "Playbook completed", "success", "\u2714")
    PLAYBOOK_FAILED = ("playbook.failed", "Playbook failed", "danger", "\u2718")
    APPROVAL_REQUIRED = ("approval.required", "Approval required", "warning", "?")
    APPROVAL_GRANTED = ("approval.granted", "Approval granted", "success", "\u2611")
    APPROVAL_REJECTED = ("approval.rejected", "Approval rejected", "danger", "\u2612")
    SYSTEM_ALERT = ("system.alert", "System alert", "danger", "!")
    SYSTEM_ALERT_RESOLVED = ("system.alert_resolved", "Alert resolved", "success", "\u25ce")
    SYSTEM_ALERT_ACKNOWLEDGED = (
        "system.alert_acknowledged",
        "Alert acknowledged",
        "info",
        "\u2713",
    )
    SYSTEM_SILENCE = ("system.silence", "Silence started", "neutral", "\u2298")
    SYSTEM_SILENCE_ENDED = ("system.silence_ended", "Silence ended", "neutral", "\u25cb")
    SYSTEM_METRIC = ("system.metric", "System metric", "neutral", "\u223f")
    SYSTEM_HEALTH = ("system.health", "System health", "neutral", "\u2665\ufe0e")
    KPI_UPDATE = ("analytics.kpi_update", "KPI update", "analytics", "\u2197")
    ANOMALY_DETECTED = ("analytics.anomaly", "Anomaly", "warning", "\u0394")


KNOWN_EVENTS = frozenset(member.value for member in EventType)
# What only livewatch itself publishes: its samples, health and alerts, and their channel.
# Over HTTP they would let anyone fake the host's figures or an alert on every page.
RESERVED_PREFIX = "system."
RESERVED_CHANNELS = frozenset({SYSTEM})
OTHER_EVENT = "other"  # the metric label of every event type outside the built-in set
# Published on the `system` channel; every other system.* event goes to `global`.
SYSTEM_CHANNEL_EVENTS = frozenset({EventType.SYSTEM_METRIC, EventType.SYSTEM_HEALTH})


def catalogue() -> dict[str, dict[str, str]]:
    """The built-in event types as the page gets them."""
    return {
        member.value: {"label": member.label, "tone": member.tone, "glyph": member.glyph}
        for member in EventType
    }


class NoRouteError(ValueError):
    """The event names no business, user or channel and is not a system event."""


def route(
    event: str,
    business_id: str | None = None,
    user_id: str | None = None,
    channel: str | None = None,
) -> list[str]:
    """The channels an event goes to, in the order they are published."""
    channels: list[str] = []
    if business_id:
        channels.append(business_channel(business_id))
    if user_id:
        channels.append(user_channel(user_id))
    if event in SYSTEM_CHANNEL_EVENTS:
        channels.append(SYSTEM)
    elif event.startswith("system."):
        channels.append(GLOBAL)
    if channel and channel not in channels:
        channels.append(channel)
    if not channels:
        raise NoRouteError(
            f"event '{event}' has no destination: give a business_id, a user_id or a channel"
        )
    return channels


@dataclass(frozen=True)
class EmitResult:
    channels: dict[str, int]
    recipients: int


class EventBroadcaster:
    def __init__(self, broker: Broker, metrics: HubMetrics) -> None:
        self._broker = broker
        self._metrics = metrics
        for event in (*sorted(KNOWN_EVENTS), OTHER_EVENT):  # every series exists from the start
            metrics.events_published.labels(event)

    async def emit(
        self,
        event_type: EventType | str,
        data: Mapping[str, Any],
        business_id: str | None = None,
        user_id: str | None = None,
        channel: str | None = None,
    ) -> EmitResult:
        event = str(event_type)
        targets = route(event, business_id, user_id, channel)
        payload = protocol.event_payload(event, data, now_rfc3339())
        published = await self._broker.publish(targets, payload)
        seqs = {item.channel: item.seq for item in published}
        recipients = sum(item.recipients for item in published)
        self._metrics.events_published.labels(event if event in KNOWN_EVENTS else OTHER_EVENT).inc()
        log.debug("emitted %s to %s (%d recipients)", event, ", ".join(seqs), recipients)
        return EmitResult(channels=seqs, recipients=recipients)

    async def emit_business_update(
        self, business_id: str, changes: Mapping[str, Any]
    ) -> EmitResult:
        return await self.emit(
            EventType.BUSINESS_UPDATED,
            {"business_id": business_id, "changes": dict(changes)},
            business_id=business_id,
        )

    async def emit_task_progress(
        self,
        business_id: str,
        task_id: str,
        status: str,
        progress: float | None = None,
        result: Any = None,
    ) -> EmitResult:
        event_type = {
            "started": EventType.TASK_STARTED,
            "completed": EventType.TASK_COMPLETED,
            "failed": EventType.TASK_FAILED,
        }.get(status)
        if event_type is None:
            raise ValueError(f"task status must be started, completed or failed, not {status!r}")
        return await self.emit(
            event_type,
            {"task_id": task_id, "status": status, "progress": progress, "result": result},
            business_id=business_id,
        )

    async def emit_approval_required(
        self, business_id: str, request_id: str, title: str, risk_level: str
    ) -> EmitResult:
        return await self.emit(
            EventType.APPROVAL_REQUIRED,
            {"request_id": request_id, "title": title, "risk_level": risk_level},
            business_id=business_id,
        )

    async def emit_kpi_update(self, business_id: str, kpis: Mapping[str, Any]) -> EmitResult:
        return await self.emit(EventType.KPI_UPDATE, {"kpis": dict(kpis)}, business_id=business_id)

    async def emit_system_alert(
        self, level: str, message: str, details: Mapping[str, Any] | None = None
    ) -> EmitResult:
        return await self.emit(
            EventType.SYSTEM_ALERT,
            {"level": level, "message": message, "details": dict(details or {})},
        )
