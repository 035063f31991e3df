"""Checks of the telemetry files: Prometheus config and alert rules (promtool, plus runbook
links that must land on a heading of docs/operations.md), the Grafana dashboard (its PromQL
parsed by promtool, its metric names against the contract), Grafana provisioning and the
OpenTelemetry Collector pipeline wiring.
"""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import yaml

import contract as contract_mod

_METRIC = re.compile(r"\bonboarding_[a-z_]+\b")
_GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                 "${__rate_interval}": "5m", "${__interval}": "1m"}


def markdown_anchors(path: Path) -> set[str]:
    """GitHub-style heading slugs of a markdown file."""
    return set(markdown_sections(path))


def markdown_sections(path: Path) -> dict[str, str]:
    """Heading slug -> the text under that heading, up to the next heading. Lines inside
    fenced code blocks (a shell comment starts with #) are text, not headings."""
    sections: dict[str, str] = {}
    current, fenced = None, False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            current = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def _runbook_problems(name: str, ann: dict, anchors: set[str], sections: dict[str, str]) -> list[str]:
    """annotations.runbook_url (the name Alertmanager templates and Grafana link) ends in
    docs/operations.md#<heading>; a prefix (the repository's web address) is allowed. The
    section says what the alert means and what to do."""
    if "runbook" in ann:
        return [f"{name}: annotation runbook is spelt runbook_url"]
    runbook = ann.get("runbook_url", "")
    anchor = runbook.partition("docs/operations.md#")[2]
    if not anchor:
        return [f"{name}: annotations.runbook_url must point at docs/operations.md#<section>"]
    if anchor not in anchors:
        return [f"{name}: runbook_url anchor #{anchor} is not a heading of docs/operations.md"]
    if "**Meaning**" not in sections.get(anchor, ""):
        return [f"{name}: the runbook section #{anchor} must say what the alert means (**Meaning**)"]
    return []


def check_markdown_links(path: Path) -> tuple[list[str], str]:
    """Every in-page link (#anchor) of a markdown file lands on one of its headings."""
    anchors = markdown_anchors(path)
    links = re.findall(r"\]\(#([^)]+)\)", path.read_text())
    problems = [f"link #{a} matches no heading" for a in links if a not in anchors]
    return problems, f"{len(anchors)} headings, {len(links)} in-page links"


def promtool(promtool_bin: str, *args: str) -> tuple[bool, str]:
    out = subprocess.run([promtool_bin, *args], capture_output=True, text=True, timeout=60)
    return out.returncode == 0, (out.stdout + out.stderr).strip()


def unknown_metrics(expr: str) -> list[str]:
    return sorted({m for m in _METRIC.findall(expr) if m not in contract_mod.METRICS})


def check_alerts(path: Path, docs: Path, promtool_bin: str | None) -> tuple[list[str], str]:
    problems = []
    if promtool_bin:
        ok, out = promtool(promtool_bin, "check", "rules", str(path))
        if not ok:
            problems.append(f"promtool check rules: {out}")
    anchors = markdown_anchors(docs) if docs.exists() else set()
    sections = markdown_sections(docs) if docs.exists() else {}
    rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        name = rule.get("alert") or rule.get("record")
        problems += [f"{name}: unknown metric {m}" for m in unknown_metrics(rule["expr"])]
        if "alert" not in rule:
            continue
        ann, labels = rule.get("annotations", {}), rule.get("labels", {})
        if labels.get("severity") not in ("page", "ticket", "info"):
            problems.append(f"{name}: label severity must be page, ticket or info")
        if not ann.get("summary") or not ann.get("description"):
            problems.append(f"{name}: needs summary and description annotations")
        problems += _runbook_problems(name, ann, anchors, sections)
    tests = path.with_name(path.stem + ".test.yaml")
    if promtool_bin and tests.exists():
        ok, out = promtool(promtool_bin, "test", "rules", str(tests))
        if not ok:
            problems.append(f"promtool test rules {tests.name}: {out}")
    alerts = sum(1 for r in rules if "alert" in r)
    return problems, f"{alerts} alerts" + (f", unit tests {tests.name}" if tests.exists() and promtool_bin else "")


def check_prometheus_config(path: Path, rules: Path, promtool_bin: str | None) -> tuple[list[str], str]:
    config = yaml.safe_load(path.read_text())
    problems = []
    # The container path of the rules file does not exist here: point it at the repo's file.
    config["rule_files"] = [str(rules.resolve())]
    if promtool_bin:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "prometheus.yml"
            local.write_text(yaml.safe_dump(config))
            ok, out = promtool(promtool_bin, "check", "config", str(local))
            if not ok:
                problems.append(f"promtool check config: {out}")
    jobs = [j["job_name"] for j in config.get("scrape_configs", [])]
    return problems, f"{len(jobs)} scrape jobs"


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def check_dashboard(path: Path, provisioned_uids: set[str], promtool_bin: str | None) -> tuple[list[str], str]:
    board = json.loads(path.read_text())
    problems, exprs, ids = [], [], set()
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    if not board.get("uid") or not board.get("title"):
        problems.append("dashboard needs a uid and a title")
    for panel in _panels(board.get("panels", [])):
        if panel.get("id") in ids:
            problems.append(f"panel id {panel.get('id')} is used twice")
        ids.add(panel.get("id"))
        if panel.get("type") != "row" and "gridPos" not in panel:
            problems.append(f"panel {panel.get('title')}: gridPos missing")
        for target in panel.get("targets", []):
            if "expr" in target:
                exprs.append((panel.get("title"), target["expr"]))
        ds = (panel.get("datasource") or {}).get("uid", "")
        if ds and not ds.startswith("$") and ds not in provisioned_uids:
            problems.append(f"panel {panel.get('title')}: datasource uid {ds} is not provisioned")
    for title, expr in exprs:
        problems += [f"panel {title}: unknown metric {m}" for m in unknown_metrics(expr)]
    if promtool_bin and exprs:
        problems += _parse_promql(promtool_bin, exprs, variables)
    return problems, f"{len(ids)} panels, {len(exprs)} queries"


def _parse_promql(promtool_bin: str, exprs, variables) -> list[str]:
    """promtool parses PromQL when it checks rules: wrap each query in a recording rule."""
    rules = []
    for i, (_, expr) in enumerate(exprs):
        for var, value in _GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        for name in variables:
            expr = expr.replace(f"${{{name}}}", ".*").replace(f"${name}", ".*")
        rules.append({"record": f"dashboard:query:{i}", "expr": expr})
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "dashboard-queries.yaml"
        file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        ok, out = promtool(promtool_bin, "check", "rules", str(file))
    return [] if ok else [f"PromQL: {out}"]


def check_grafana_provisioning(directory: Path) -> tuple[list[str], set[str], str]:
    problems, uids = [], set()
    ds = yaml.safe_load((directory / "datasources" / "datasources.yaml").read_text())
    for source in ds.get("datasources", []):
        if not source.get("uid") or not source.get("url"):
            problems.append(f"datasource {source.get('name')}: uid and url are required")
        uids.add(source.get("uid"))
    boards = yaml.safe_load((directory / "dashboards" / "dashboards.yaml").read_text())
    if not boards.get("providers"):
        problems.append("dashboards.yaml: no providers")
    return problems, uids, f"{len(uids)} datasources"


def check_otel_collector(path: Path) -> tuple[list[str], str]:
    config = yaml.safe_load(path.read_text())
    problems = []
    pipelines = config.get("service", {}).get("pipelines", {})
    for name, pipeline in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                if component not in (config.get(section) or {}):
                    problems.append(f"pipeline {name}: {section[:-1]} {component} is not defined")
    if "traces" not in pipelines:
        problems.append("no traces pipeline")
    return problems, f"{len(pipelines)} pipelines"
