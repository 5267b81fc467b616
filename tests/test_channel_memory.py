"""Per-channel state is bounded: 200,000 one-shot channels cost memory only until their
history TTL passes, then the process gives it back.

Measured on a process that has already seen such a burst come and go (the first one leaves
a few MB with the allocator: arenas that a handful of live objects keep). A burst takes
about 95 MB; at least 90 % of it must come back."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.test_cli import ROOT


def test_memory_returns_after_200000_one_shot_channels_pass_their_ttl() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.channel_memory", "200000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(run.stdout)
    base, peak, after = figures["base"], figures["peak"], figures["after"]
    taken = peak - base
    assert taken > 50 * 2**20, f"the channels took memory while they lived: {figures}"
    assert peak - after >= 0.9 * taken, f"and gave nearly all of it back after the TTL: {figures}"
