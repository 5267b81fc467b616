"""SQLite store for what must survive a restart: the alert history.

The table's columns are AlertRecord's fields. sqlite3 is blocking, so every call runs in a
worker thread behind one lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any, get_type_hints

from app.monitor.alert_record import AlertRecord

SQL_TYPES = {str: "TEXT", float: "REAL", int: "INTEGER"}
COLUMNS = tuple(item.name for item in fields(AlertRecord))
_HINTS = get_type_hints(AlertRecord)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    {", ".join(f"{name} {SQL_TYPES[_HINTS[name]]} NOT NULL" for name in COLUMNS)}
);
CREATE INDEX IF NOT EXISTS alerts_by_rule ON alerts (rule, id);
"""
SELECT = f"SELECT {', '.join(COLUMNS)} FROM alerts"


def _record(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(**{name: row[name] for name in COLUMNS})


class AlertStore:
    def __init__(self, path: Path, history_limit: int) -> None:
        self.path = path
        self.history_limit = history_limit
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        self._db = db

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._db is None:
                raise RuntimeError("the alert store is closed")
            return self._db.execute(sql, params).fetchall()

    async def add(self, record: AlertRecord) -> None:
        await asyncio.to_thread(self._add, record)

    def _add(self, record: AlertRecord) -> None:
        row = record.as_dict()
        self._run(
            f"INSERT INTO alerts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            tuple(row[column] for column in COLUMNS),
        )
        self._run(
            "DELETE FROM alerts WHERE id <= (SELECT max(id) FROM alerts) - ?",
            (self.history_limit,),
        )

    async def recent(self, limit: int) -> list[AlertRecord]:
        rows = await asyncio.to_thread(self._run, f"{SELECT} ORDER BY id DESC LIMIT ?", (limit,))
        return [_record(row) for row in rows]

    async def active(self) -> list[AlertRecord]:
        """The latest record of each rule whose last word was 'firing'."""
        rows = await asyncio.to_thread(
            self._run,
            f"{SELECT} WHERE id IN (SELECT max(id) FROM alerts GROUP BY rule) "
            "AND state = 'firing' ORDER BY id DESC",
        )
        return [_record(row) for row in rows]

    async def count(self) -> int:
        rows = await asyncio.to_thread(self._run, "SELECT count(*) FROM alerts")
        return int(rows[0][0])
