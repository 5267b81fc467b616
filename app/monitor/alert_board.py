"""The alerts firing now, from every source, with who acknowledged them and the silences
that cover them. Every change is stored, counted in the metrics and announced on `global`:
system.alert, system.alert_resolved, system.alert_acknowledged, system.silence and
system.silence_ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.hub.events import EventBroadcaster, EventType
from app.monitor.alert_record import HANDLING_STATES, Acknowledgement, AlertRecord, AlertState
from app.monitor.alert_store import AlertStore
from app.monitor.metrics import MonitorMetrics
from app.monitor.silences import Silence
from app.timeutil import rfc3339, utc_now

log = logging.getLogger(__name__)

UNACKNOWLEDGED, ACKNOWLEDGED, SILENCED = HANDLING_STATES
IDLE_WAKE_SECONDS = 3600.0  # the expiry loop looks again at least this often


class UnknownAlert(LookupError):
    """No alert has this id."""


class AlertNotFiring(LookupError):
    """The alert is known but not firing any more."""


class UnknownSilence(LookupError):
    """No silence has this id."""


class SilenceNotActive(LookupError):
    """The silence has ended or expired already."""


class AlertBoard:
    def __init__(
        self,
        store: AlertStore,
        metrics: MonitorMetrics,
        broadcaster: EventBroadcaster,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.broadcaster = broadcaster
        self.clock = clock
        self.active: dict[tuple[str, str], AlertRecord] = {}  # by (source, key)
        self.acks: dict[str, Acknowledgement] = {}  # of the active alerts, by alert_id
        self.silences: dict[str, Silence] = {}  # the active ones, by silence_id
        self._changed = asyncio.Event()

    async def restore(self) -> None:
        """Pick up what was firing, acknowledged and silenced when the service stopped."""
        for record in await self.store.active():
            self.active[(record.source, record.key)] = record
        self.acks = await self.store.acknowledgements(r.alert_id for r in self.active.values())
        for silence in await self.store.active_silences(self.clock()):
            self.silences[silence.silence_id] = silence
        self._observe()

    # --- reading ----------------------------------------------------------------------

    def current(self, source: str, key: str) -> AlertRecord | None:
        return self.active.get((source, key))

    def find(self, alert_id: str) -> AlertRecord | None:
        return next((r for r in self.active.values() if r.alert_id == alert_id), None)

    def acknowledgement(self, record: AlertRecord) -> Acknowledgement | None:
        ack = self.acks.get(record.alert_id)
        return ack if ack is not None and ack.covers(record) else None

    def silenced_by(self, record: AlertRecord) -> list[str]:
        now = self.clock()
        return [
            silence.silence_id
            for silence in self.silences.values()
            if silence.active_at(now) and silence.matches(record)
        ]

    def view(self, record: AlertRecord) -> dict[str, Any]:
        """An active alert as the API and the events show it."""
        ack = self.acknowledgement(record)
        return {
            **record.as_dict(),
            "acknowledged": ack.as_dict() if ack else None,
            "silenced_by": self.silenced_by(record),
        }

    def active_views(self) -> list[dict[str, Any]]:
        return [self.view(record) for record in self.active.values()]

    async def history_views(self, records: list[AlertRecord]) -> list[dict[str, Any]]:
        """Past records with the last acknowledgement their alert had, if any."""
        acks = await self.store.acknowledgements(r.alert_id for r in records)
        return [
            {
                **record.as_dict(),
                "acknowledged": acks[record.alert_id].as_dict()
                if record.alert_id in acks
                else None,
            }
            for record in records
        ]

    def silence_views(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            {**silence.as_dict(), "matches": len(self.covered(silence))}
            for silence in sorted(self.silences.values(), key=lambda s: s.ends)
            if silence.active_at(now)
        ]

    def covered(self, silence: Silence) -> list[str]:
        """The ids of the alerts firing now that the silence matches."""
        return [record.alert_id for record in self.active.values() if silence.matches(record)]

    # --- alert transitions ------------------------------------------------------------

    async def record(self, record: AlertRecord) -> None:
        """A transition of one alert: store it, count it and tell every page."""
        key = (record.source, record.key)
        if record.state == AlertState.FIRING:
            self.active[key] = record
        else:
            self.active.pop(key, None)
            self.acks.pop(record.alert_id, None)
        log.warning(
            "alert %s %s (%s): %s", record.rule, record.state, record.source, record.message
        )
        await self.store.add(record)
        self._observe()
        event = (
            EventType.SYSTEM_ALERT
            if record.state == AlertState.FIRING
            else EventType.SYSTEM_ALERT_RESOLVED
        )
        await self.broadcaster.emit(event, {**self.view(record), "details": {}})

    # --- acknowledging ----------------------------------------------------------------

    async def acknowledge(self, alert_id: str, by: str, comment: str) -> dict[str, Any]:
        record = self.find(alert_id)
        if record is None:
            raise (
                AlertNotFiring(alert_id)
                if await self.store.known(alert_id)
                else UnknownAlert(alert_id)
            )
        ack = Acknowledgement(alert_id, by, comment, record.level, rfc3339(self.clock()))
        await self.store.acknowledge(ack)
        self.acks[alert_id] = ack
        self._observe()
        log.info("alert %s (%s) acknowledged by %s", record.rule, alert_id, by)
        await self.broadcaster.emit(
            EventType.SYSTEM_ALERT_ACKNOWLEDGED,
            {
                "alert_id": alert_id,
                "rule": record.rule,
                "source": record.source,
                "level": record.level,
                "acknowledged": ack.as_dict(),
                "message": f"Acknowledged by {by}: {record.message}",
            },
        )
        return self.view(record)

    # --- silences ---------------------------------------------------------------------

    async def add_silence(
        self, matchers: dict[str, str], until: datetime, by: str, comment: str
    ) -> Silence:
        now = self.clock()
        silence = Silence(
            silence_id=uuid.uuid4().hex,
            matchers=matchers,
            starts_at=rfc3339(now),
            ends_at=rfc3339(until),
            by=by,
            comment=comment,
        )
        await self.store.add_silence(silence)
        self.silences[silence.silence_id] = silence
        self._changed.set()
        self._observe()
        log.info("silence %s by %s until %s: %s", silence.silence_id, by, until, matchers)
        await self._announce_silence(EventType.SYSTEM_SILENCE, silence, "Silenced")
        return silence

    async def end_silence(self, silence_id: str, by: str) -> Silence:
        silence = self.silences.get(silence_id)
        if silence is None or not silence.active_at(self.clock()):
            if await self.store.silence(silence_id) is None:
                raise UnknownSilence(silence_id)
            raise SilenceNotActive(silence_id)
        ended = Silence(**{**silence.as_dict(), "ended_at": rfc3339(self.clock()), "ended_by": by})
        await self.store.end_silence(ended)
        del self.silences[silence_id]
        self._changed.set()
        self._observe()
        await self._announce_silence(EventType.SYSTEM_SILENCE_ENDED, ended, f"Ended by {by}")
        return ended

    async def expire_silences(self) -> list[Silence]:
        now = self.clock()
        due = [s for s in self.silences.values() if not s.active_at(now)]
        for silence in due:
            del self.silences[silence.silence_id]
        if due:
            self._observe()
        for silence in due:
            log.info("silence %s expired", silence.silence_id)
            await self._announce_silence(EventType.SYSTEM_SILENCE_ENDED, silence, "Expired")
        return due

    async def run(self) -> None:
        """End each silence at its time, so the alerts it covered show again."""
        while True:
            self._changed.clear()
            try:
                await self.expire_silences()
            except Exception:
                log.exception("ending expired silences failed; trying again later")
            ends = [silence.ends for silence in self.silences.values()]
            wait = IDLE_WAKE_SECONDS
            if ends:
                wait = min(wait, max(0.0, (min(ends) - self.clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)

    async def _announce_silence(self, event: EventType, silence: Silence, word: str) -> None:
        covered = self.covered(silence)
        matchers = " ".join(f"{name}={value}" for name, value in silence.matchers.items())
        await self.broadcaster.emit(
            event,
            {
                **silence.as_dict(),
                "alert_ids": covered,
                "message": f"{word}: {matchers} (by {silence.by} until {silence.ends_at})",
            },
        )

    # --- metrics ----------------------------------------------------------------------

    def _observe(self) -> None:
        counts: Counter[tuple[str, str, str]] = Counter()
        for record in self.active.values():
            if self.silenced_by(record):
                state = SILENCED
            elif self.acknowledgement(record) is not None:
                state = ACKNOWLEDGED
            else:
                state = UNACKNOWLEDGED
            counts[(record.source, record.level, state)] += 1
        self.metrics.observe_alert_states(counts)
