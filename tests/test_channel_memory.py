"""Per-channel state is bounded: 200,000 one-shot channels cost memory only until their
history TTL passes, then the process is back within 10 % of where it was."""

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
    assert peak > base + 50 * 2**20, f"the channels took memory while they lived: {figures}"
    assert after <= base * 1.10, f"and gave it back after the TTL: {figures}"
