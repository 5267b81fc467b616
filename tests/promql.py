"""The PromQL that grafana/ ships, and small text tools to check it (no PromQL parser here:
a real Prometheus parses every expression in test_prometheus.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parent.parent / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "livewatch-overview.json"
RULES = GRAFANA / "rules" / "livewatch-alerts.yml"
RULE_TESTS = GRAFANA / "rules" / "livewatch-alerts.test.yml"

# Grafana computes $__rate_interval as max($__interval + scrape interval, 4 * scrape
# interval), the scrape interval being the data source's "timeInterval". The live test
# scrapes every second, for which Grafana would pick 4s.
RATE_INTERVAL_FOR_1S_SCRAPES = "4s"

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
COMPARISON = re.compile(r"==|!=|>=|<=|>|<")
LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")
ABSENT = re.compile(r"^\s*absent\((.*)\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Expression:
    where: str  # e.g. "panel 'CPU utilisation' target A" or "alert LivewatchCPUHigh"
    expr: str


@dataclass(frozen=True)
class VariableQuery:
    name: str
    selector: str  # the series selector of label_values(selector, label)
    label: str


def load_dashboard() -> dict[str, Any]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert isinstance(dashboard, dict)
    return dashboard


def load_rules() -> dict[str, Any]:
    rules = yaml.safe_load(RULES.read_text())
    assert isinstance(rules, dict)
    return rules


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions(dashboard: dict[str, Any]) -> list[Expression]:
    return [
        Expression(f"panel {panel['title']!r} target {target['refId']}", target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_queries(dashboard: dict[str, Any]) -> list[VariableQuery]:
    found = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        match = LABEL_VALUES.match(text)
        assert match, f"variable {variable['name']}: expected label_values(...), got {text!r}"
        found.append(VariableQuery(variable["name"], match.group(1) or "", match.group(2)))
    return found


def rule_name(rule: dict[str, Any]) -> str:
    return f"alert {rule['alert']}" if "alert" in rule else f"record {rule['record']}"


def rule_expressions(rules: dict[str, Any]) -> list[Expression]:
    return [
        Expression(rule_name(rule), rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana variables ($name, ${name}, [[name]]) the way a panel would."""
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        expr = expr.replace("${" + name + "}", value).replace("[[" + name + "]]", value)
        expr = re.sub(r"\$" + re.escape(name) + r"\b", value.replace("\\", r"\\"), expr)
    return expr


def with_bool(expr: str) -> str:
    """Add the `bool` modifier to every comparison outside label matchers and strings.

    A comparison filters: an alert expression is empty while nothing is wrong. With `bool`
    it keeps every series and yields 0 or 1 instead, so a query proves that each operand
    selects series and that they match each other, whatever the current values.
    """
    out: list[str] = []
    braces = 0
    i = 0
    while i < len(expr):
        string = STRING.match(expr, i)
        if string:
            out.append(string.group())
            i = string.end()
            continue
        char = expr[i]
        braces += {"{": 1, "}": -1}.get(char, 0)
        comparison = COMPARISON.match(expr, i) if braces == 0 else None
        if comparison:
            out.append(comparison.group())
            i = comparison.end()
            if not re.match(r"\s*bool\b", expr[i:]):
                out.append(" bool")
            continue
        out.append(char)
        i += 1
    return "".join(out)


def queryable(expr: str) -> str:
    """The alert expression to query for a live check: `absent(x)` is empty exactly when
    x exists, so query x; every other expression gets `bool` on its comparisons."""
    absent = ABSENT.match(expr)
    if absent:
        return absent.group(1)
    return with_bool(expr)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers left once strings, label matchers,
    range and grouping clauses are removed, minus functions and keywords."""
    text = STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = GROUPING.sub(" ", text)
    names = set()
    for match in IDENTIFIER.finditer(text):
        name = match.group()
        if name in KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        if match.start() > 0 and text[match.start() - 1] in "$.0123456789":
            continue  # a variable, or the tail of a number such as 1e3
        names.add(name)
    return names


def enclosing_call(expr: str, position: int) -> str | None:
    """The name of the innermost function call whose parentheses enclose `position`."""
    depth = 0
    for i in range(position - 1, -1, -1):
        char = expr[i]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                before = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", expr[:i])
                return before.group(1) if before else None
            depth -= 1
    return None


def counters_outside_rate(expr: str) -> list[str]:
    """`_total` series used anywhere but directly inside rate() or increase()."""
    text = STRING.sub('""', expr)
    return [
        match.group()
        for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*_total\b", text)
        if enclosing_call(text, match.start()) not in ("rate", "increase")
    ]
