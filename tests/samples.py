"""Samples built by hand, to drive alert rules without waiting on the real host."""

from __future__ import annotations

from app.monitor.processes import NO_PROCESSES
from app.monitor.sample import Sample
from app.timeutil import now_rfc3339


def make_sample(cpu: float = 10.0, memory: float = 20.0, disk: float = 30.0) -> Sample:
    return Sample(
        cpu_percent=cpu,
        cpu_percent_per_core=(cpu, cpu),
        memory_percent=memory,
        memory_used_bytes=1,
        memory_total_bytes=2,
        disk_percent=disk,
        disk_used_bytes=3,
        disk_total_bytes=4,
        disk_path="/",
        load_1=0.1,
        load_5=0.2,
        load_15=0.3,
        net_bytes_sent=5,
        net_bytes_recv=6,
        net_sent_bytes_per_second=7.0,
        net_recv_bytes_per_second=8.0,
        disk_read_bytes_per_second=9.0,
        disk_write_bytes_per_second=10.0,
        top_processes=NO_PROCESSES,
        active_connections=0,
        node="test-node",
        queued_frames=0,
        timestamp=now_rfc3339(),
    )
