"""What the probes need to know about the app's own life."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Lifecycle:
    shutting_down: bool = False
