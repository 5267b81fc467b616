"""Logs: the same line again and again is written once per window, with a count."""

from __future__ import annotations

import logging

from app.logs import RepeatFilter


def record(message: str, name: str = "app.test") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_a_repeated_line_is_written_once_per_window_then_with_a_count() -> None:
    now = [0.0]
    repeats = RepeatFilter(window=10.0, clock=lambda: now[0])
    passed = [repeats.filter(record("client %s left")) for _ in range(500)]
    assert passed.count(True) == 1
    assert repeats.filter(record("another message"))
    now[0] = 11.0
    late = record("client %s left")
    assert repeats.filter(late)
    assert late.msg == "client %s left (499 more like this in the last 11 s)"


def test_the_access_log_is_never_thinned() -> None:
    repeats = RepeatFilter(window=10.0, clock=lambda: 0.0)
    assert all(repeats.filter(record("%s %s", name="aiohttp.access")) for _ in range(50))
