"""The floor plan: every import in app/ points to the same layer or one below it.

Layers, top to bottom: the command line, the composition root, the HTTP and WebSocket
handlers, the monitor, the hub, identity and permissions, and the base modules that import
nothing of livewatch's but each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("cli", ("app.__main__", "app.cli")),
    ("server", ("app.server",)),
    ("web", ("app.web",)),
    ("monitor", ("app.monitor",)),
    ("hub", ("app.hub",)),
    ("auth", ("app.auth",)),
    (
        "base",
        (
            "app",
            "app.channels",
            "app.settings",
            "app.timeutil",
            "app.periodic",
            "app.lifecycle",
            "app.loop_lag",
            "app.logs",
            "app.memory",
        ),
    ),
]


def layer_of(module: str) -> int | None:
    """The index of the layer a module belongs to (0 is the top), by its longest prefix.
    The bare package name stands for its __init__ only, not for everything inside it."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or ("." in prefix and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, package: str) -> list[str]:
    """Every livewatch module a file imports, anywhere in it (functions included)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
            found.append(node.module)
    return [name for name in found if name == package or name.startswith(package + ".")]


def violations(root: Path, package: str = "app") -> list[str]:
    problems: list[str] = []
    for path in sorted((root / package).rglob("*.py")):
        source = module_name(path, root)
        own = layer_of(source)
        if own is None:
            problems.append(f"{source} is in no layer: add it to LAYERS")
            continue
        for target in imported_modules(path, package):
            if target.rsplit(".", 1)[0] == source:  # `from x import name` of x's own names
                continue
            theirs = layer_of(target)
            if theirs is not None and theirs < own:
                problems.append(
                    f"{source} ({LAYERS[own][0]}) imports {target} ({LAYERS[theirs][0]})"
                )
    return problems


def test_no_import_runs_back_up() -> None:
    assert violations(ROOT) == []


def test_the_check_catches_an_import_that_runs_back_up(tmp_path: Path) -> None:
    (tmp_path / "app" / "hub").mkdir(parents=True)
    (tmp_path / "app" / "web").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "web" / "__init__.py").write_text("")
    (tmp_path / "app" / "web" / "keys.py").write_text("KEY = 1\n")
    (tmp_path / "app" / "hub" / "__init__.py").write_text("")
    (tmp_path / "app" / "hub" / "hub.py").write_text(
        "def late():\n    from app.web.keys import KEY\n    return KEY\n"
    )
    (tmp_path / "app" / "stray.py").write_text("")
    assert violations(tmp_path) == [
        "app.hub.hub (hub) imports app.web.keys.KEY (web)",
        "app.hub.hub (hub) imports app.web.keys (web)",
        "app.stray is in no layer: add it to LAYERS",
    ]


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("app.cli", "cli"),
        ("app.web.ws", "web"),
        ("app.hub.events", "hub"),
        ("app.channels", "base"),
    ],
)
def test_modules_are_placed_by_their_package(module: str, layer: str) -> None:
    index = layer_of(module)
    assert index is not None and LAYERS[index][0] == layer
