"""SQLite store for what must survive a restart: the alert history, acknowledgements and
silences.

Each table's columns are a dataclass's fields (AlertRecord, Acknowledgement, Silence):
str, float and int as themselves, dicts as JSON text, `X | None` as a nullable column. A
table written by an older livewatch is rebuilt with the new columns at open. sqlite3 is
blocking, so every call runs in a worker thread behind one lock.

A storage fault (a read-only file, a full disk, the file or its folder removed) never
stops an alert: a write that fails waits in a bounded queue, in order, and is written once
the store works again; the file is opened anew at its path if it was removed. The
rollback journal is used rather than WAL: WAL maps its index file into memory, and a
write to that mapping once the file cannot be written kills the process with SIGBUS.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from app.monitor.alert_record import Acknowledgement, AlertRecord, AlertState
from app.monitor.silences import Silence

log = logging.getLogger(__name__)

T = TypeVar("T")
PENDING_LIMIT = 1000  # writes waiting for the store; past it the oldest is dropped, and said
STORE_ERRORS = (sqlite3.Error, OSError)
SQL_TYPES: dict[Any, str] = {str: "TEXT", float: "REAL", int: "INTEGER", dict: "TEXT"}
SILENCES_KEPT = 1000  # ended and expired silences beyond these are forgotten
# One row, rewritten by the health check: proof that the store takes writes.
HEARTBEAT_TABLE = "CREATE TABLE IF NOT EXISTS heartbeat (id INTEGER PRIMARY KEY, at REAL)"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Any  # str, float, int or dict
    nullable: bool
    default: Any  # for rows written before the column existed; MISSING if none


def columns_of(record: type[Any]) -> tuple[Column, ...]:
    hints = get_type_hints(record)
    found = []
    for item in fields(record):
        kind, nullable = hints[item.name], False
        if get_origin(kind) in (Union, types.UnionType):
            kinds = [arg for arg in get_args(kind) if arg is not type(None)]
            kind, nullable = kinds[0], len(kinds) < len(get_args(kind))
        kind = get_origin(kind) or kind
        if kind not in SQL_TYPES:
            raise TypeError(f"{record.__name__}.{item.name}: no column type for {kind}")
        default = item.default
        if item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        found.append(Column(item.name, kind, nullable, default))
    return tuple(found)


@dataclass(frozen=True)
class Table(Generic[T]):
    """A table whose rows are one dataclass; `fill` names, for a column added later, the
    old column that rows written before it take their value from."""

    name: str
    record: type[T]
    primary_key: str | None  # None: an autoincrement id gives the rows their order
    indexes: tuple[str, ...] = ()
    fill: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def columns(self) -> tuple[Column, ...]:
        return columns_of(self.record)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def create_sql(self, name: str) -> str:
        parts = [] if self.primary_key else ["id INTEGER PRIMARY KEY AUTOINCREMENT"]
        for column in self.columns:
            spec = f"{column.name} {SQL_TYPES[column.kind]}"
            spec += "" if column.nullable else " NOT NULL"
            spec += " PRIMARY KEY" if column.name == self.primary_key else ""
            parts.append(spec)
        return f"CREATE TABLE {name} ({', '.join(parts)})"

    def row(self, record: T) -> tuple[Any, ...]:
        return tuple(encode(column, getattr(record, column.name)) for column in self.columns)

    def record_of(self, row: sqlite3.Row) -> T:
        values = {column.name: decode(column, row[column.name]) for column in self.columns}
        return self.record(**values)

    def select(self) -> str:
        return f"SELECT {', '.join(self.names)} FROM {self.name}"

    def insert(self, verb: str = "INSERT") -> str:
        marks = ", ".join("?" * len(self.names))
        return f"{verb} INTO {self.name} ({', '.join(self.names)}) VALUES ({marks})"


def encode(column: Column, value: Any) -> Any:
    if value is not None and column.kind is dict:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def decode(column: Column, value: Any) -> Any:
    if value is not None and column.kind is dict:
        return json.loads(value)
    return value


ALERTS: Table[AlertRecord] = Table(
    "alerts",
    AlertRecord,
    None,
    indexes=("alerts_by_rule ON alerts (rule, id)", "alerts_by_key ON alerts (source, key, id)"),
    fill={"key": "rule", "started_at": "timestamp"},
)
ACKS: Table[Acknowledgement] = Table("acknowledgements", Acknowledgement, "alert_id")
SILENCES: Table[Silence] = Table(
    "silences", Silence, "silence_id", indexes=("silences_by_end ON silences (ends_at)",)
)
TABLES: tuple[Table[Any], ...] = (ALERTS, ACKS, SILENCES)
# The latest record of each alert (its source and key) whose last word was 'firing'.
FIRING_IDS = (
    "SELECT id FROM alerts WHERE id IN (SELECT max(id) FROM alerts GROUP BY source, key) "
    f"AND state = '{AlertState.FIRING.value}'"
)


def migrate(db: sqlite3.Connection, table: Table[Any]) -> None:
    """Create the table, or rebuild one an older livewatch wrote: rows keep their values,
    new columns take their `fill` column's value or the field's default."""
    have = {row[1]: bool(row[3]) for row in db.execute(f"PRAGMA table_info({table.name})")}
    want = {column.name: not column.nullable for column in table.columns}
    if not table.primary_key:
        want["id"] = False
    if not have:
        db.execute(table.create_sql(table.name))
    elif have != want:
        picks: list[str] = [] if table.primary_key else ["id"]
        params: list[Any] = []
        for column in table.columns:
            if column.name in have:
                picks.append(column.name)
            elif column.name in table.fill:
                picks.append(table.fill[column.name])
            elif column.default is not dataclasses.MISSING:
                picks.append("?")
                params.append(encode(column, column.default))
            else:
                raise RuntimeError(f"cannot add {table.name}.{column.name}: it has no default")
        targets = ([] if table.primary_key else ["id"]) + list(table.names)
        db.execute("BEGIN")
        try:
            db.execute(table.create_sql(f"{table.name}_new"))
            db.execute(
                f"INSERT INTO {table.name}_new ({', '.join(targets)}) "
                f"SELECT {', '.join(picks)} FROM {table.name}",
                params,
            )
            db.execute(f"DROP TABLE {table.name}")
            db.execute(f"ALTER TABLE {table.name}_new RENAME TO {table.name}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    for index in table.indexes:
        db.execute(f"CREATE INDEX IF NOT EXISTS {index}")


class StoreFault(RuntimeError):
    """The store cannot be written (or read) right now; the message says why."""


class AlertStore:
    def __init__(
        self,
        path: Path,
        history_limit: int,
        on_write_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self.history_limit = history_limit
        self.on_write_failure = on_write_failure
        self.last_fault = ""
        self._lock = threading.Lock()
        # Writes and their retries run on worker threads: one at a time, in order.
        self._writing = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the open file
        self._pending: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._removed = False  # the file was removed and made anew since the last check

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute(HEARTBEAT_TABLE)
        with self._lock:
            for table in TABLES:
                migrate(db, table)
        info = os.stat(self.path)
        self._db = db
        self._identity = (info.st_dev, info.st_ino)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                try:
                    self._db.close()
                except sqlite3.Error as exc:  # a store that cannot be written at shutdown
                    log.warning("closing the alert store: %s", exc)
                self._db = None
        if self._pending:
            log.error(
                "%d alert store writes could not be made before shutdown (%s)",
                len(self._pending),
                self.last_fault,
            )

    def _same_file(self) -> bool:
        """Whether the path still names the file open: a removed file or folder leaves
        SQLite writing into a file nobody will ever read again."""
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

    def _ensure_open(self) -> None:
        if self._db is not None and self._same_file():
            return
        if self._db is not None:
            log.warning("the alert store %s was removed; opening it anew", self.path)
            self._close_quietly()
            self._removed = True
        try:
            self._open()
        except STORE_ERRORS as exc:
            raise StoreFault(f"cannot open {self.path}: {exc}") from exc

    def _close_quietly(self) -> None:
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    # --- writes that never stop an alert ----------------------------------------------

    def _write(self, write: Callable[..., None], *args: Any) -> None:
        """Make a write, or queue it behind the ones already waiting."""
        with self._writing:
            if self._pending:
                self._queue(write, args)
                self._flush()
                return
            try:
                self._ensure_open()
                write(*args)
            except (StoreFault, *STORE_ERRORS) as exc:
                self._fault(exc)
                self._queue(write, args)

    def _queue(self, write: Callable[..., None], args: tuple[Any, ...]) -> None:
        if len(self._pending) >= PENDING_LIMIT:
            self._pending.popleft()
            log.error("alert store writes waiting past %d: the oldest is dropped", PENDING_LIMIT)
        self._pending.append((write, args))

    def _fault(self, exc: BaseException) -> None:
        self.last_fault = f"{type(exc).__name__}: {exc}"
        self.on_write_failure()
        log.warning("alert store write failed, kept to try again: %s", self.last_fault)

    def _flush(self) -> int:
        """Write what waits, oldest first, until one fails; how many were written."""
        written = 0
        with self._writing:  # reentrant: a write that finds others waiting flushes them
            while self._pending:
                write, args = self._pending[0]
                try:
                    self._ensure_open()
                    write(*args)
                except (StoreFault, *STORE_ERRORS) as exc:
                    self._fault(exc)
                    break
                self._pending.popleft()
                written += 1
        if written and not self._pending:
            log.info("alert store works again: %d waiting writes made", written)
        return written

    async def retry(self) -> int:
        return await asyncio.to_thread(self._flush) if self._pending else 0

    async def retry_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.retry()

    async def check(self) -> str:
        """Prove the store can be written now: the file at its path is the one open, and a
        heartbeat row goes in. StoreFault says why not."""
        return await asyncio.to_thread(self._check)

    def _check(self) -> str:
        if self._db is None:
            raise StoreFault("the alert store is closed")
        with self._writing:
            try:
                self._ensure_open()
            except StoreFault as exc:
                raise StoreFault(f"{self.path} was removed and cannot be made: {exc}") from exc
            self._flush()
            removed, self._removed = self._removed, False
        if removed:
            # Said once, though already repaired: what the old file held is gone.
            raise StoreFault(
                f"{self.path} was removed; a new one was made (what the old one held is lost)"
            )
        try:
            self._run("INSERT OR REPLACE INTO heartbeat (id, at) VALUES (1, ?)", (time.time(),))
            stored = int(self._run("SELECT count(*) FROM alerts")[0][0])
        except STORE_ERRORS as exc:
            raise StoreFault(f"cannot write {self.path}: {exc}") from exc
        if self._pending:
            raise StoreFault(f"{len(self._pending)} writes wait for the store ({self.last_fault})")
        return f"SQLite wrote a heartbeat; {stored} alert records stored"

    def _run(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._db is None:
                raise RuntimeError("the alert store is closed")
            return self._db.execute(sql, tuple(params)).fetchall()

    def _atomic(self, *statements: tuple[str, Iterable[Any]]) -> None:
        """Several statements as one transaction: a write that fails halfway leaves
        nothing behind, so trying it again cannot make it twice."""
        with self._lock:
            if self._db is None:
                raise RuntimeError("the alert store is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    db.execute(sql, tuple(params))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one to tell
                        db.execute("ROLLBACK")
                raise

    async def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return await asyncio.to_thread(self._run, sql, params)

    # --- alert history ---------------------------------------------------------------

    async def add(self, record: AlertRecord) -> None:
        await asyncio.to_thread(self._write, self._add, record)

    def _add(self, record: AlertRecord) -> None:
        self._atomic(
            (ALERTS.insert(), ALERTS.row(record)),
            # Bounded, except that an alert still firing keeps its latest record.
            (
                f"DELETE FROM alerts WHERE id <= (SELECT max(id) FROM alerts) - ? "
                f"AND id NOT IN ({FIRING_IDS})",
                (self.history_limit,),
            ),
        )

    async def recent(self, limit: int, state: str | None = None) -> list[AlertRecord]:
        where = "" if state is None else "WHERE state = ? "
        params: list[Any] = [] if state is None else [state]
        sql = f"{ALERTS.select()} {where}ORDER BY id DESC LIMIT ?"
        rows = await self._query(sql, [*params, limit])
        return [ALERTS.record_of(row) for row in rows]

    async def active(self) -> list[AlertRecord]:
        """The latest record of each alert whose last word was 'firing'."""
        rows = await self._query(f"{ALERTS.select()} WHERE id IN ({FIRING_IDS}) ORDER BY id")
        return [ALERTS.record_of(row) for row in rows]

    async def known(self, alert_id: str) -> bool:
        rows = await self._query("SELECT 1 FROM alerts WHERE alert_id = ? LIMIT 1", (alert_id,))
        return bool(rows)

    async def count(self) -> int:
        rows = await self._query("SELECT count(*) FROM alerts")
        return int(rows[0][0])

    # --- acknowledgements ------------------------------------------------------------

    async def acknowledge(self, ack: Acknowledgement) -> None:
        await asyncio.to_thread(self._write, self._acknowledge, ack)

    def _acknowledge(self, ack: Acknowledgement) -> None:
        self._atomic(
            (ACKS.insert("INSERT OR REPLACE"), ACKS.row(ack)),
            # An acknowledgement lives as long as some record of its alert does.
            (
                "DELETE FROM acknowledgements WHERE alert_id NOT IN (SELECT alert_id FROM alerts)",
                (),
            ),
        )

    async def acknowledgements(self, alert_ids: Iterable[str]) -> dict[str, Acknowledgement]:
        wanted = sorted(set(alert_ids))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = await self._query(f"{ACKS.select()} WHERE alert_id IN ({marks})", wanted)
        return {row["alert_id"]: ACKS.record_of(row) for row in rows}

    # --- silences --------------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None:
        await asyncio.to_thread(self._write, self._add_silence, silence)

    def _add_silence(self, silence: Silence) -> None:
        self._atomic(
            (SILENCES.insert(), SILENCES.row(silence)),
            (
                "DELETE FROM silences WHERE silence_id NOT IN "
                "(SELECT silence_id FROM silences ORDER BY ends_at DESC LIMIT ?)",
                (SILENCES_KEPT,),
            ),
        )

    async def end_silence(self, silence: Silence) -> None:
        await asyncio.to_thread(self._write, self._end_silence, silence)

    def _end_silence(self, silence: Silence) -> None:
        self._run(
            "UPDATE silences SET ended_at = ?, ended_by = ? WHERE silence_id = ?",
            (silence.ended_at, silence.ended_by, silence.silence_id),
        )

    async def silence(self, silence_id: str) -> Silence | None:
        rows = await self._query(f"{SILENCES.select()} WHERE silence_id = ?", (silence_id,))
        return SILENCES.record_of(rows[0]) if rows else None

    async def active_silences(self, now: datetime) -> list[Silence]:
        rows = await self._query(f"{SILENCES.select()} WHERE ended_at IS NULL ORDER BY ends_at")
        silences = [SILENCES.record_of(row) for row in rows]
        return [silence for silence in silences if silence.active_at(now)]
