"""README.md, executed: every fenced code block in it is run, or checked by a real tool.

The word after the opening fence says how a block is checked:

``console``
    ``$ command`` lines run in a bash session started in the checkout, one session per
    ``##`` section, with only a few plain variables set (PATH without ``.venv/bin``, HOME,
    locale) as for a newcomer. A command ending in a backslash goes on on the next line.
    The lines up to the next ``$`` are its expected output, stdout and stderr together:

    - a line of just ``...`` stands for any number of lines, and ``...`` inside a line for
      any text on that line (doctest's ELLIPSIS, line by line);
    - a line that is a JSON object or array is compared as JSON, as is the whole output
      when all its lines together are one JSON value: key order does not matter, and a
      value ``"..."`` matches any value;
    - no expected lines means no output at all.

    Every command must exit 0; to show a failure, write ``cmd || echo "exit status $?"``.

    ``8080`` is a free port of the section's own. A command marked
    ``# serves until Ctrl-C`` is started in the background and waited for until that port
    answers; at the end of the section its processes are sent SIGTERM, it must exit 0, and
    its output is compared then. A section that uses the port without starting a server
    gets a fresh ``livewatch serve`` (open mode) started by the test. Each section has a
    database of its own (``LIVEWATCH_DATABASE_PATH`` points into a temporary directory).

    What the suite cannot do as written is rewritten, and nothing else: ``sudo`` is
    dropped and paths under ``/etc/`` and ``/var/lib/`` move under a temporary root;
    ``/tmp/`` moves into the test's temporary directory; ``make test`` runs as
    ``make -n test`` (running it would run this test again); the name of a saved python
    file (below) becomes that file's path.

``python``
    Must start with a ``# NAME.py`` line. The block is saved as NAME.py, with the same
    port and path rewrites, for the console commands that run it; a python block that no
    console command runs fails, so every one is executed as a real process.

``yaml``
    ``promtool check config`` for a Prometheus configuration (``scrape_configs``),
    ``promtool check rules`` for rule groups, ``amtool check-config`` for an Alertmanager
    configuration (``route`` and ``receivers``). An absolute path whose file name is that
    of a file under grafana/ is pointed at that file.

``json``
    Parsed.

``tree``
    The Layout: two spaces of indent per level, each entry followed by its job. Every
    entry exists, every module of app/ is listed, and app/ reads top to bottom in the
    layer order of tests/test_layers.py.

A block in any other language, or in none, fails: give this module a checker first.
Where promtool or amtool is missing, the checks that need it skip with the reason (under
CI=true they fail instead). The configuration table is checked against app.settings as well.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from app.settings import default_text, env_name, specs
from tests.conftest import free_port
from tests.test_layers import layer_of, module_name

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

PORT = "8080"
SERVES = "# serves until Ctrl-C"
CHECKED = ("console", "python", "yaml", "json", "tree")
# Programs the README uses that a developer machine may lack: name -> where to get it.
OPTIONAL_TOOLS = {
    "promtool": "Debian package 'prometheus'",
    "amtool": "Debian package 'prometheus-alertmanager'",
}
# The variables a console session starts with, taken from the caller's environment.
PASSED_ENV = ("HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "CI")

COMMAND_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


# --- reading the README -----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # of the opening fence, 1-based
    section: str

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


def parse_blocks(markdown: str) -> list[Block]:
    blocks: list[Block] = []
    section = "(top)"
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        # Indented fences (in a list) and ~~~ fences count too: no block goes unseen.
        fence = re.match(r"( *)(`{3,}|~{3,})(.*)$", line)
        if fence is None:
            if line.startswith("## "):
                section = line[3:].strip()
            index += 1
            continue
        indent, marks, info = len(fence[1]), fence[2], fence[3]
        end = index + 1
        while end < len(lines) and lines[end].strip() != marks:
            end += 1
        if end == len(lines):
            raise ValueError(f"README.md:{index + 1}: this block is never closed")
        body = "".join(text[indent:] + "\n" for text in lines[index + 1 : end])
        blocks.append(Block(info.strip().split(" ")[0], body, index + 1, section))
        index = end + 1
    return blocks


@dataclass(frozen=True)
class Command:
    text: str
    expected: tuple[str, ...]
    line: int

    @property
    def serves(self) -> bool:
        return SERVES in self.text


def parse_console(block: Block) -> list[Command]:
    commands: list[Command] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].startswith("$ "):
            raise ValueError(f"README.md:{block.line + 1 + index}: output before any `$ `")
        start = index
        text = [lines[index][2:]]
        while text[-1].endswith("\\") and index + 1 < len(lines):
            index += 1
            text.append(lines[index])
        index += 1
        expected: list[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            expected.append(lines[index])
            index += 1
        while expected and not expected[-1].strip():
            expected.pop()
        commands.append(Command("\n".join(text), tuple(expected), block.line + 1 + start))
    return commands


def python_file_name(block: Block) -> str | None:
    first = block.text.split("\n", 1)[0]
    found = re.fullmatch(r"# ([\w-]+\.py)\b.*", first)
    return found.group(1) if found else None


# --- comparing output -------------------------------------------------------------------


def json_matches(expected: Any, actual: Any) -> bool:
    if expected == "...":
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(json_matches(expected[key], actual[key]) for key in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(json_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return type(expected) is type(actual) and bool(expected == actual)


def as_json(text: str) -> Any:
    """The JSON object or array the text is, else None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def line_matches(expected: str, actual: str) -> bool:
    wanted = as_json(expected)
    if wanted is not None:
        got = as_json(actual)
        return got is not None and json_matches(wanted, got)
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def normalise(output: str) -> list[str]:
    lines = [line.rstrip() for line in output.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def output_matches(expected: Sequence[str], output: str) -> bool:
    wanted = [line.rstrip() for line in expected]
    actual = normalise(output)
    whole = as_json("\n".join(wanted)) if len(wanted) > 1 else None
    if whole is not None:
        got = as_json("\n".join(actual))
        return got is not None and json_matches(whole, got)

    @functools.cache
    def from_(i: int, j: int) -> bool:
        if i == len(wanted):
            return j == len(actual)
        if wanted[i] == "...":
            return any(from_(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and line_matches(wanted[i], actual[j]) and from_(i + 1, j + 1)

    return from_(0, 0)


# --- rewrites ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rewrites:
    port: int
    tmp: Path
    files: Mapping[str, Path] = field(default_factory=dict)

    def text(self, text: str) -> str:
        """For commands, expected output and saved files alike."""
        text = re.sub(rf"\b{PORT}\b", str(self.port), text)
        roots = {"tmp": self.tmp / "tmp", "etc": self.tmp / "root/etc"}
        roots["var/lib"] = self.tmp / "root/var/lib"
        return re.sub(r"(?<![\w./-])/(tmp|etc|var/lib)/", lambda found: f"{roots[found[1]]}/", text)

    def command(self, text: str) -> str:
        text = self.text(text)
        text = re.sub(r"(^|[;&|(]\s*)sudo\s+", r"\1", text, flags=re.MULTILINE)
        text = re.sub(r"^make test\b", "make -n test", text)
        for name, path in self.files.items():
            text = re.sub(rf"(?<![\w./-]){re.escape(name)}\b", shlex.quote(str(path)), text)
        return text


# --- a bash session ---------------------------------------------------------------------


class SessionError(Exception):
    pass


class Bash:
    """One bash process fed command by command; each command's output goes to a file."""

    def __init__(self, proc: asyncio.subprocess.Process, workdir: Path) -> None:
        self.proc = proc
        self.workdir = workdir
        self.count = 0
        self.asked = 0
        self.said: list[str] = []  # what bash itself printed, such as a syntax error

    @classmethod
    async def start(cls, env: Mapping[str, str], workdir: Path) -> Bash:
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "--noprofile",
            "--norc",
            cwd=ROOT,
            env=dict(env),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so cleanup reaches every child
        )
        return cls(proc, workdir)

    async def _ask(self, script: str, limit: float) -> str:
        """Send script, which must end by echoing the marker and a value; return the value."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.asked += 1
        marker = f"__readme_{self.asked}"
        self.proc.stdin.write(script.replace("@MARK@", marker).encode())
        await self.proc.stdin.drain()
        async with asyncio.timeout(limit):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise SessionError("bash exited: " + "".join(self.said))
                if line.startswith(marker + " "):
                    return line[len(marker) + 1 :].strip()
                self.said.append(line)

    def output_file(self) -> Path:
        self.count += 1
        return self.workdir / f"command-{self.count}.out"

    async def run(self, command: str) -> tuple[int, str]:
        out = self.output_file()
        status = await self._ask(
            f"{{ {command}\n}} >{shlex.quote(str(out))} 2>&1 </dev/null; echo @MARK@ $?\n",
            COMMAND_TIMEOUT,
        )
        return int(status), out.read_text(errors="replace")

    async def start_background(self, command: str) -> Background:
        out = self.output_file()
        pid = await self._ask(
            f"{{ {command}\n}} >{shlex.quote(str(out))} 2>&1 </dev/null &\necho @MARK@ $!\n",
            COMMAND_TIMEOUT,
        )
        return Background(int(pid), out)

    async def stop_background(self, job: Background) -> int:
        """SIGTERM to the job's innermost processes (a service manager's stop), then its
        exit status."""
        try:
            top = psutil.Process(job.pid)
            leaves = [proc for proc in top.children(recursive=True) if not proc.children()]
            for proc in leaves or [top]:
                proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
        return int(await self._ask(f"wait {job.pid}; echo @MARK@ $?\n", STOP_TIMEOUT))

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


@dataclass(frozen=True)
class Background:
    pid: int
    out: Path

    def alive(self) -> bool:
        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


async def wait_for_port(port: int, job: Background) -> bool:
    deadline = asyncio.get_running_loop().time() + COMMAND_TIMEOUT
    while asyncio.get_running_loop().time() < deadline and job.alive():
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


def session_env(port: int, workdir: Path) -> dict[str, str]:
    venv_bin = (ROOT / ".venv" / "bin").resolve()
    path = [
        entry
        for entry in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if entry and Path(entry).resolve() != venv_bin
    ]
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env["PATH"] = os.pathsep.join(path)
    env[env_name("port")] = str(port)
    env[env_name("database_path")] = str(workdir / "livewatch.sqlite3")
    return env


# --- checkers ---------------------------------------------------------------------------


def show(text: str) -> str:
    return "".join(f"    | {line}\n" for line in text.splitlines()) or "    (nothing)\n"


def missing_tool(text: str) -> str | None:
    for tool, package in OPTIONAL_TOOLS.items():
        if re.search(rf"\b{tool}\b", text) and shutil.which(tool) is None:
            return f"{tool} is not installed ({package})"
    return None


def python_files(blocks: Sequence[Block]) -> dict[str, Block]:
    return {
        name: block
        for block in blocks
        if block.lang == "python" and (name := python_file_name(block)) is not None
    }


def uses_port(command: Command, files: Mapping[str, Block]) -> bool:
    if PORT in command.text:
        return True
    return any(
        re.search(rf"(?<![\w./-]){re.escape(name)}\b", command.text) and PORT in block.text
        for name, block in files.items()
    )


async def run_console(
    section: Sequence[Block], all_blocks: Sequence[Block], tmp: Path
) -> list[str]:
    """Run a section's console blocks in one bash session; the problems found."""
    commands = [command for block in section for command in parse_console(block)]
    files = python_files(all_blocks)
    workdir = tmp / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    rewrites = Rewrites(port, tmp, {name: workdir / name for name in files})
    (tmp / "tmp").mkdir(exist_ok=True)  # where /tmp/ goes: it exists, as /tmp does
    for name, block in files.items():
        (workdir / name).write_text(rewrites.text(block.text))

    problems: list[str] = []
    servers = [command for command in commands if command.serves]
    if len(servers) > 1:
        return [f"README.md:{servers[1].line}: a section may start one server, not two"]
    bash = await Bash.start(session_env(port, workdir), workdir)
    server: tuple[Command | None, Background] | None = None
    try:
        if not servers and any(uses_port(command, files) for command in commands):
            job = await bash.start_background(shlex.quote(sys.executable) + " -m app serve")
            if not await wait_for_port(port, job):
                raise SessionError(f"livewatch serve never answered:\n{show(job.out.read_text())}")
            server = (None, job)
        for command in commands:
            where = f"README.md:{command.line}: $ {command.text}"
            script = rewrites.command(command.text)
            if command.serves:
                job = await bash.start_background(script)
                server = (command, job)
                if not await wait_for_port(port, job):
                    problems.append(
                        f"{where}\n  never answered on port {port}; it said:\n"
                        + show(job.out.read_text(errors="replace"))
                    )
                    break
                continue
            status, output = await bash.run(script)
            expected = [rewrites.text(line) for line in command.expected]
            if status != 0:
                problems.append(f"{where}\n  exited with {status}; it said:\n{show(output)}")
            elif not output_matches(expected, output):
                problems.append(
                    f"{where}\n  expected:\n{show(chr(10).join(expected))}  got:\n{show(output)}"
                )
        if server is not None:
            started_by, job = server
            status = await bash.stop_background(job)
            output = job.out.read_text(errors="replace")
            label = "the test's livewatch serve" if started_by is None else started_by.text
            line = section[0].line if started_by is None else started_by.line
            if status != 0:
                problems.append(
                    f"README.md:{line}: {label}\n  exited with {status} after SIGTERM; "
                    f"it said:\n{show(output)}"
                )
            elif started_by is not None:
                expected = [rewrites.text(text) for text in started_by.expected]
                if not output_matches(expected, output):
                    problems.append(
                        f"README.md:{line}: $ {label}\n  expected:\n"
                        f"{show(chr(10).join(expected))}  got:\n{show(output)}"
                    )
    except (SessionError, TimeoutError) as exc:
        problems.append(f"section {section[0].section!r}: {type(exc).__name__}: {exc}")
    finally:
        await bash.close()
    return problems


def repo_file(path: str) -> Path | None:
    found = [item for item in (ROOT / "grafana").rglob(Path(path).name) if item.is_file()]
    return found[0] if len(found) == 1 else None


def yaml_checker(data: Any) -> list[str] | None:
    """The command (without the file) that checks this YAML, or None if none knows it."""
    if isinstance(data, dict) and "scrape_configs" in data:
        return ["promtool", "check", "config"]
    if isinstance(data, dict) and "groups" in data:
        return ["promtool", "check", "rules"]
    if isinstance(data, dict) and {"route", "receivers"} <= data.keys():
        return ["amtool", "check-config"]
    return None


def yaml_tool(block: Block) -> str:
    checker = yaml_checker(yaml.safe_load(block.text))
    return checker[0] if checker else "promtool"


def check_yaml(block: Block, tmp: Path) -> list[str]:
    text = block.text
    for path in set(re.findall(r"(?<![\w.:-])/[\w./-]+", text)):
        target = repo_file(path)
        if target is not None:
            text = text.replace(path, str(target))
    checker = yaml_checker(yaml.safe_load(text))
    if checker is None:
        return [
            f"{block.where}: no checker knows this YAML (neither a Prometheus config, rules "
            "nor an Alertmanager config)"
        ]
    path = tmp / "block.yml"
    path.write_text(text)
    done = subprocess.run(
        [*checker, str(path)],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return [f"{block.where}: {' '.join(checker)} failed:\n{show(done.stdout + done.stderr)}"]
    return []


def check_json(block: Block) -> list[str]:
    try:
        json.loads(block.text)
    except ValueError as exc:
        return [f"{block.where}: not JSON: {exc}"]
    return []


@dataclass(frozen=True)
class TreeEntry:
    path: str  # relative to the checkout; directories end with /
    job: str
    line: int


def parse_tree(block: Block) -> tuple[list[TreeEntry], list[str]]:
    entries: list[TreeEntry] = []
    problems: list[str] = []
    parents: list[str] = []
    for offset, line in enumerate(block.text.splitlines()):
        number = block.line + 1 + offset
        found = re.fullmatch(r"( *)(\S+)(?: {2,}(.*))?", line)
        if found is None or len(found[1]) % 2:
            problems.append(f"README.md:{number}: not `<2n spaces><name>  <its job>`: {line!r}")
            continue
        depth = len(found[1]) // 2
        if depth > len(parents):
            problems.append(f"README.md:{number}: indented deeper than its parent")
            continue
        del parents[depth:]
        path = "".join(parents) + found[2]
        if found[2].endswith("/"):
            parents.append(found[2])
        entries.append(TreeEntry(path, (found[3] or "").strip(), number))
    return entries, problems


def check_tree(block: Block, root: Path = ROOT) -> list[str]:
    entries, problems = parse_tree(block)
    for entry in entries:
        target = root / entry.path
        exists = target.is_dir() if entry.path.endswith("/") else target.is_file()
        if not exists:
            problems.append(f"README.md:{entry.line}: {entry.path} does not exist")
        if not entry.job:
            problems.append(f"README.md:{entry.line}: {entry.path} needs a word on its job")
    listed = {entry.path for entry in entries}
    for path in sorted((root / "app").rglob("*")):
        if "__pycache__" in path.parts:
            continue
        name = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
        empty_init = path.name == "__init__.py" and not path.read_text().strip()
        if (path.is_dir() or path.suffix == ".py") and not empty_init and name not in listed:
            problems.append(f"{block.where}: the Layout does not list {name}")
    layers = [
        (entry, layer_of(module_name(root / entry.path.rstrip("/"), root)))
        for entry in entries
        if entry.path.startswith("app/") and entry.path != "app/"
    ]
    for (before, upper), (after, lower) in itertools.pairwise(layers):
        if upper is not None and lower is not None and lower < upper:
            problems.append(
                f"README.md:{after.line}: {after.path} is in a higher layer than "
                f"{before.path} above it; list app/ in layer order, top first"
            )
    return problems


# --- the units of work: one per console section or other block --------------------------


@dataclass(frozen=True)
class Unit:
    id: str
    kind: str
    blocks: tuple[Block, ...]


def units(blocks: Sequence[Block]) -> list[Unit]:
    found: list[Unit] = []
    sections: dict[str, list[Block]] = {}
    for block in blocks:
        if block.lang == "console":
            sections.setdefault(block.section, []).append(block)
        elif block.lang == "python":
            continue  # saved as files and run by console commands; see the python test
        else:
            kind = block.lang if block.lang in CHECKED else "unknown"
            found.append(Unit(f"{block.lang or 'no-language'}@{block.line}", kind, (block,)))
    found += [
        Unit(f"console:{name}", "console", tuple(section)) for name, section in sections.items()
    ]
    return found


async def check_unit(unit: Unit, all_blocks: Sequence[Block], tmp: Path) -> list[str]:
    first = unit.blocks[0]
    if unit.kind == "unknown":
        return [
            f"{first.where}: a ```{first.lang}``` block, and no checker for that language "
            f"(checked: {', '.join(CHECKED)}); tests/test_readme.py must learn it first"
        ]
    if unit.kind == "console":
        return await run_console(unit.blocks, all_blocks, tmp)
    if unit.kind == "yaml":
        return check_yaml(first, tmp)
    if unit.kind == "json":
        return check_json(first)
    return check_tree(first)


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, so every README block must be checked: {reason}")
    pytest.skip(reason)


BLOCKS = parse_blocks(README.read_text())


@pytest.mark.parametrize("unit", units(BLOCKS), ids=lambda unit: unit.id)
async def test_readme_block(unit: Unit, tmp_path: Path) -> None:
    needs = (
        yaml_tool(unit.blocks[0])
        if unit.kind == "yaml"
        else "".join(block.text for block in unit.blocks)
    )
    reason = missing_tool(needs)
    if reason is not None:
        skip_or_fail(reason)
    problems = await check_unit(unit, BLOCKS, tmp_path)
    assert not problems, "\n\n".join(problems)


def test_every_python_block_is_a_file_a_command_runs() -> None:
    python = [block for block in BLOCKS if block.lang == "python"]
    assert python, "the README shows no Python"
    commands = [
        command.text
        for block in BLOCKS
        if block.lang == "console"
        for command in parse_console(block)
    ]
    names: list[str] = []
    for block in python:
        name = python_file_name(block)
        assert name is not None, f"{block.where}: start the block with a `# NAME.py` line"
        ast.parse(block.text, name)
        pattern = rf"(?<![\w./-]){re.escape(name)}\b"
        assert any(re.search(pattern, text) for text in commands), (
            f"{block.where}: no console command runs {name}"
        )
        names.append(name)
    assert len(names) == len(set(names)), f"two python blocks share a file name: {names}"


# --- the configuration table ------------------------------------------------------------


def section_text(markdown: str, title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert found is not None, f"README.md has no `## {title}` section"
    return found.group(1)


def table_rows(text: str, header: str) -> list[list[str]]:
    """The body rows of the first table whose header row starts with `header`."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(header):
            rows: list[list[str]] = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"no table starting {header!r}")


def configuration_table(markdown: str) -> dict[str, str]:
    """Setting name (as in LIVEWATCH_<NAME>) -> the default the README gives it."""
    shown: dict[str, str] = {}
    for row in table_rows(section_text(markdown, "Configuration"), "| setting |"):
        names = re.findall(r"`([A-Z0-9_]+)`", row[0])
        values = re.findall(r"`([^`]*)`", row[1]) or [row[1]]
        assert names, f"a row of the configuration table names no setting: {row}"
        if len(values) == 1:
            values *= len(names)
        assert len(values) == len(names), f"give one default, or one per setting: {row}"
        for name, value in zip(names, values, strict=True):
            assert name not in shown, f"{name} is in the configuration table twice"
            shown[name] = value
    return shown


def test_configuration_table_lists_every_setting_with_its_real_default() -> None:
    markdown = README.read_text()
    shown = configuration_table(markdown)
    real = {item.name.upper(): default_text(item) for item, _ in specs()}
    assert sorted(set(shown) - set(real)) == [], "the table names settings that do not exist"
    assert sorted(set(real) - set(shown)) == [], "settings missing from the table"
    wrong = {name: (shown[name], real[name]) for name in real if shown[name] != real[name]}
    assert wrong == {}, "README default vs real default"
    env_only = {item.name.upper() for item, spec in specs() if spec.env_only}
    for row in table_rows(section_text(markdown, "Configuration"), "| setting |"):
        if env_only & set(re.findall(r"`([A-Z0-9_]+)`", row[0])):
            assert "environment only" in row[2], f"say the row is environment only: {row}"


def test_every_livewatch_variable_the_readme_names_exists() -> None:
    real = {env_name(item.name) for item, _ in specs()}
    named = set(re.findall(r"LIVEWATCH_[A-Z0-9_]+", README.read_text()))
    assert sorted(named - real) == []


# --- the checker checks itself ------------------------------------------------------------


def synthetic(markdown: str) -> list[Unit]:
    return units(parse_blocks(markdown))


async def test_a_wrong_expected_output_is_caught(tmp_path: Path) -> None:
    (unit,) = synthetic("## Demo\n\n```console\n$ echo hello\ngoodbye\n```\n")
    problems = await check_unit(unit, unit.blocks, tmp_path)
    assert len(problems) == 1
    assert "$ echo hello" in problems[0] and "goodbye" in problems[0]


async def test_a_right_session_passes_and_keeps_its_state(tmp_path: Path) -> None:
    markdown = (
        "## Demo\n\n```console\n$ export GREETING=hi\n$ cd /tmp && echo $GREETING \\\n"
        "    there\nhi there\n$ printf 'one\\ntwo\\nthree\\n'\none\n...\n$ echo '{\"b\": [1], "
        '"a": "x"}\'\n{"a": "...", "b": [1]}\n```\n'
    )
    (unit,) = synthetic(markdown)
    assert await check_unit(unit, unit.blocks, tmp_path) == []


async def test_a_failing_command_is_caught(tmp_path: Path) -> None:
    (unit,) = synthetic("## Demo\n\n```console\n$ ls /nonexistent-readme-path\n...\n```\n")
    (problem,) = await check_unit(unit, unit.blocks, tmp_path)
    assert "exited with 2" in problem


async def test_a_block_in_an_unknown_language_fails(tmp_path: Path) -> None:
    (unit,) = synthetic("## Demo\n\n```sh\necho unchecked\n```\n")
    (problem,) = await check_unit(unit, unit.blocks, tmp_path)
    assert "```sh```" in problem and "no checker" in problem


def test_indented_tilde_and_bare_fences_are_seen() -> None:
    markdown = "- a step:\n\n  ~~~console\n  $ true\n  ~~~\n\n```\nplain\n```\n"
    assert [(block.lang, block.text) for block in parse_blocks(markdown)] == [
        ("console", "$ true\n"),
        ("", "plain\n"),
    ]
    assert [unit.kind for unit in synthetic(markdown)] == ["unknown", "console"]


def test_the_tree_check_catches_a_missing_module(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cli.py").write_text("")
    (tmp_path / "app" / "settings.py").write_text("")
    block = Block("tree", "app/  the service\n  settings.py  settings\n  cli.py  flags\n", 1, "x")
    assert check_tree(block, tmp_path) == [
        "README.md:4: app/cli.py is in a higher layer than app/settings.py above it; "
        "list app/ in layer order, top first"
    ]
    block = Block("tree", "app/  the service\n  cli.py  flags\n", 1, "x")
    assert check_tree(block, tmp_path) == ["README.md:1: the Layout does not list app/settings.py"]


@pytest.mark.parametrize(
    ("expected", "output", "verdict"),
    [
        (["a", "...", "c"], "a\nb\nb\nc\n", True),
        (["a", "...", "c"], "a\nc", True),
        (["a", "...", "c"], "a\nb\n", False),
        (["x ... z"], "x y y z", True),
        (["x ... z"], "x y\nz", False),
        (['{"a": 1, "b": "..."}'], '{"b": [2], "a": 1}', True),
        (['{"a": 1}'], '{"a": 1, "b": 2}', False),
        (['{"a": 1}'], '{"a": true}', False),
        (["{", '  "a": [1, 2]', "}"], '{"a": [1, 2]}', True),
        ([], "", True),
        ([], "surprise\n", False),
    ],
)
def test_output_matching(expected: list[str], output: str, verdict: bool) -> None:
    assert output_matches(expected, output) is verdict


async def test_an_alertmanager_config_is_checked_by_amtool(tmp_path: Path) -> None:
    if shutil.which("amtool") is None:
        skip_or_fail("amtool is not installed (Debian package 'prometheus-alertmanager')")
    good = "route:\n  receiver: x\nreceivers:\n  - name: x\n"
    (unit,) = synthetic(f"## Demo\n\n```yaml\n{good}```\n")
    assert await check_unit(unit, unit.blocks, tmp_path) == []
    bad = good + "    webhook_configs:\n      - url: http://h/x\n        sent_resolved: true\n"
    (unit,) = synthetic(f"## Demo\n\n```yaml\n{bad}```\n")
    (problem,) = await check_unit(unit, unit.blocks, tmp_path)
    assert "amtool check-config failed" in problem and "sent_resolved" in problem


def test_rewrites_touch_only_what_the_suite_cannot_run(tmp_path: Path) -> None:
    rewrites = Rewrites(4321, tmp_path, {"embed.py": tmp_path / "work/embed.py"})
    assert rewrites.command("curl localhost:8080/x") == "curl localhost:4321/x"
    assert rewrites.command("sudo install a /etc/b/c && sudo x") == (
        f"install a {tmp_path}/root/etc/b/c && x"
    )
    assert rewrites.command("make test") == "make -n test"
    assert rewrites.command("python embed.py") == f"python {tmp_path}/work/embed.py"
    assert rewrites.text('"/tmp/x.sqlite3" grafana/etc/ 18080') == (
        f'"{tmp_path}/tmp/x.sqlite3" grafana/etc/ 18080'
    )
