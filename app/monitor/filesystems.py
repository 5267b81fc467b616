"""Which filesystems the metrics report, and their space figures (blocking: worker thread).

The selection follows node_exporter's Linux defaults for its filesystem collector
(--collector.filesystem.mount-points-exclude and --collector.filesystem.fs-types-exclude),
so dashboards built for node_exporter see the same mounts. One addition: the filesystem
holding LIVEWATCH_DISK_PATH is always reported, even when those rules would drop it (a
container's overlay root), because the built-in disk alert watches it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

MOUNT_POINTS_EXCLUDE = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
FS_TYPES_EXCLUDE = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs"
    r"|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs"
    r"|squashfs|erofs|sysfs|tracefs)$"
)


@dataclass(frozen=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str


@dataclass(frozen=True)
class FilesystemUsage:
    device: str
    mountpoint: str
    fstype: str
    size_bytes: int
    free_bytes: int
    avail_bytes: int
    readonly: bool
    files: int = 0  # inodes
    files_free: int = 0

    @property
    def used_ratio(self) -> float:
        """Used space as a share of what unprivileged users can fill: the same figure as
        psutil's disk_usage().percent (and `df`'s Use%), which the built-in alert uses."""
        used = self.size_bytes - self.free_bytes
        usable = used + self.avail_bytes
        return used / usable if usable > 0 else 0.0


def is_excluded(mount: Mount) -> bool:
    return bool(
        MOUNT_POINTS_EXCLUDE.search(mount.mountpoint) or FS_TYPES_EXCLUDE.search(mount.fstype)
    )


def mount_of(path: str, mounts: Iterable[Mount]) -> Mount | None:
    """The mount a path lives on: the one with the longest mount point above it."""
    best: Mount | None = None
    for mount in mounts:
        prefix = mount.mountpoint.rstrip("/") + "/"
        if (path == mount.mountpoint or path.startswith(prefix)) and (
            best is None or len(mount.mountpoint) > len(best.mountpoint)
        ):
            best = mount
    return best


def select_mounts(mounts: Iterable[Mount], disk_path: str) -> list[Mount]:
    """One mount per mount point (the last listed is the one on top), minus the excluded
    ones, plus the one holding disk_path."""
    by_point: dict[str, Mount] = {}
    for mount in mounts:
        by_point.pop(mount.mountpoint, None)
        by_point[mount.mountpoint] = mount
    kept = [mount for mount in by_point.values() if not is_excluded(mount)]
    watched = mount_of(os.path.realpath(disk_path), by_point.values())
    if watched is not None and watched not in kept:
        kept.append(watched)
    return kept


def usage(mount: Mount) -> FilesystemUsage | None:
    try:
        stat = os.statvfs(mount.mountpoint)
    except OSError as exc:
        log.debug("cannot stat %s: %s", mount.mountpoint, exc)
        return None
    return FilesystemUsage(
        device=mount.device,
        mountpoint=mount.mountpoint,
        fstype=mount.fstype,
        size_bytes=stat.f_blocks * stat.f_frsize,
        free_bytes=stat.f_bfree * stat.f_frsize,
        avail_bytes=stat.f_bavail * stat.f_frsize,
        readonly=bool(stat.f_flag & os.ST_RDONLY),
        files=stat.f_files,
        files_free=stat.f_ffree,
    )


def read_filesystems(disk_path: str) -> tuple[FilesystemUsage, ...]:
    mounts = (
        Mount(part.device, part.mountpoint, part.fstype)
        for part in psutil.disk_partitions(all=True)
    )
    readings = (usage(mount) for mount in select_mounts(mounts, disk_path))
    return tuple(reading for reading in readings if reading is not None)
