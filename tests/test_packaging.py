"""A wheel install serves the page too: the wheel carries every template and static file."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_page_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("livewatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    page_files = [
        path.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
    ]
    assert page_files
    data = {name.split(".data/data/share/livewatch/", 1)[-1] for name in names if ".data/" in name}
    missing = sorted(set(page_files) - data)
    assert missing == [], f"not in the wheel: {missing}"
