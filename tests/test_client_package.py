"""livewatch-client is its own distribution: aiohttp is its only dependency, it never
imports the service, and its wheel carries py.typed."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "client"
PACKAGE = CLIENT / "livewatch_client"


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_client_imports_the_standard_library_aiohttp_and_itself_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"aiohttp", "livewatch_client", "__future__"}
    for path in sorted(PACKAGE.rglob("*.py")):
        assert imported_top_levels(path) <= allowed, path.name


def test_the_client_declares_aiohttp_as_its_only_dependency() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "livewatch-client"
    assert project["dependencies"] == ["aiohttp>=3.10"]


def test_the_client_works_next_to_another_package_named_app(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("raise ImportError('the user app')\n")
    probe = (
        "import livewatch_client, livewatch_client.commands, sys\n"
        "assert 'app' not in sys.modules\n"
        "print(livewatch_client.Client.__name__)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Client"


def test_the_wheel_carries_every_module_and_py_typed(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ behind, which must not land in client/.
    source = tmp_path / "client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("livewatch_client-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"livewatch_client/{p.name}" for p in PACKAGE.glob("*.py")}
    assert expected | {"livewatch_client/py.typed"} <= names
    assert not any(name.startswith("app/") for name in names)
