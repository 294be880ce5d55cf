"""Read a release `manifest.yaml` (the only YAML reader in orchd), keeping line:col for errors.

Interprets release, execution_strategy / execution_limits, feature_units,
execution_schedule.batches, checkpoints and `deferred*` sections; keeps every other section
untouched. Inside the strategy, where a typo silently changes behaviour, unknown keys are errors
with a "did you mean" hint. Values are checked by hand (not by pydantic) so each problem names
its own file:line:col.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase

from orchestrator.core.plan_checks import Finding
from orchestrator.errors import LocatedError
from orchestrator.models.batch_id import parse_batch_id
from orchestrator.models.release import (
    Batch,
    Checkpoint,
    FeatureUnit,
    Limits,
    Priority,
    RetryPolicy,
    RiskLevel,
    Source,
    StrategyType,
)

FU_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LEADING_FU_RE = re.compile(r"^\s*(FU-[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*)")
_CHECKPOINT_RE = re.compile(r"^checkpoint_(.+)_after_batch$")
_FU_KEYS = {
    "id",
    "name",
    "priority",
    "dependencies",
    "risk_level",
    "risk",
    "notes",
    "description",
    "max_duration_minutes",
    "model",
}
_SPAWNING_KEYS = {"enabled", "status_tracking", "status_file"}
_STRATEGY_KEYS = (set(Limits.model_fields) - {"status_file"}) | {"agent_spawning"}
_RETRY_KEYS = set(RetryPolicy.model_fields)
_TIERS = ("low", "medium", "high")
_MAX_PLAIN_DEPTH = 50


class _Unset:
    pass


UNSET = _Unset()


@dataclass
class Collector:
    """Errors and warnings of one file, each pinned to line:col (1-based)."""

    file: str
    errors: list[LocatedError] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def source(self, pos: tuple[int, int] | None) -> Source:
        return Source(file=self.file, line=pos[0] if pos else None, col=pos[1] if pos else None)

    def error(self, pos: tuple[int, int] | None, name: str, problem: str, fix: str = "") -> None:
        line, col = pos if pos else (None, None)
        self.errors.append(LocatedError(self.file, line, col, name, problem, fix))

    def warn(
        self, pos: tuple[int, int] | None, code: str, name: str, problem: str, fix: str = ""
    ) -> None:
        self.warnings.append(Finding("warning", code, name, problem, fix, self.source(pos)))


@dataclass
class ManifestData:
    """What the manifest says, before plan-wide checks."""

    release_id: str | None = None
    name: str = ""
    status: str = ""
    limits: Limits = field(default_factory=Limits)
    limit_sources: dict[str, Source] = field(default_factory=dict)
    feature_units: list[FeatureUnit] = field(default_factory=list)
    batches: list[Batch] | None = None
    deferred: dict[str, str] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    release_pos: tuple[int, int] | None = None
    readable: bool = False
    """False when the file is not a YAML mapping: nothing else can be checked."""


def key_pos(node: Any, key: Any) -> tuple[int, int] | None:
    try:
        line, col = node.lc.key(key)
        return int(line) + 1, int(col) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return node_pos(node)


def value_pos(node: Any, key: Any) -> tuple[int, int] | None:
    try:
        lc = getattr(node, "lc")  # noqa: B009 - mypy narrows dict and loses ruamel's lc
        line, col = lc.value(key) if isinstance(node, dict) else lc.item(key)
        return int(line) + 1, int(col) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return key_pos(node, key) if isinstance(node, dict) else node_pos(node)


def node_pos(node: Any) -> tuple[int, int] | None:
    if isinstance(node, CommentedBase):
        try:
            return int(node.lc.line) + 1, int(node.lc.col) + 1
        except (AttributeError, TypeError):
            return None
    return None


def to_plain(value: Any, depth: int = 0) -> Any:
    """ruamel's round-trip types → plain JSON-able Python (kept in `extra`)."""
    if depth > _MAX_PLAIN_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def did_you_mean(word: str, choices: set[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else "known keys: " + ", ".join(sorted(choices))


def read_yaml(text: str, col: Collector) -> Any:
    """Parse YAML text; malformed input becomes a located error (returns UNSET)."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except RecursionError:
        col.error(None, "manifest", "YAML nested too deeply", "flatten the document")
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        pos = (mark.line + 1, mark.column + 1) if mark is not None else None
        lines = str(exc).splitlines()
        problem = getattr(exc, "problem", None) or (lines[0] if lines else "")
        col.error(
            pos, "manifest", f"malformed YAML: {problem or type(exc).__name__}", "fix the syntax"
        )
    return UNSET


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(node: Any, key: str, col: Collector, name: str, default: str = "") -> str:
    value = node.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return str(value)
    if _is_number(value):
        return str(value)
    col.error(value_pos(node, key), name, f"must be text, got {type(value).__name__}", "quote it")
    return default


def _id_list(node: Any, key: str, col: Collector, name: str) -> tuple[str, ...]:
    value = node.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        col.error(
            value_pos(node, key),
            name,
            f"must be a list of FU ids, got {type(value).__name__}",
            'write it as ["FU-100", "FU-101"]',
        )
        return ()
    ids: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not FU_ID_RE.match(item):
            col.error(
                value_pos(value, index),
                f"{name}[{index}]",
                f"not an FU id: {item!r}",
                'use ids such as "FU-100"',
            )
            continue
        if item not in ids:
            ids.append(str(item))
    return tuple(ids)


def _kind(name: str) -> str:
    """How to check a Limits field, from its default (so new Limits fields just work)."""
    if name in {"type", "retry", "model_tiers", "gate_overrides"}:
        return name
    if name in _CHOICES:
        return "choice"
    default = Limits.model_fields[name].default
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "number"
    return "text?"


def _scalar(value: Any, kind: str) -> tuple[bool, Any]:
    """(ok, converted) for the simple kinds."""
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "int":
        return _is_int(value), int(value) if _is_int(value) else value
    if kind == "number":
        return _is_number(value), float(value) if _is_number(value) else value
    if kind == "text?":
        return value is None or isinstance(value, str), None if value is None else str(value)
    return False, value


_KIND_WORDS = {
    "bool": "true or false",
    "int": "a whole number",
    "number": "a number",
    "text?": "text",
}


def _retry(node: Any, col: Collector, prefix: str, sources: dict[str, Source]) -> RetryPolicy:
    if not isinstance(node, dict):
        col.error(node_pos(node), prefix, "must be a mapping", "see config/orchd.yaml")
        return RetryPolicy()
    values: dict[str, Any] = {}
    for key in node:
        name = f"{prefix}.{key}"
        if key not in _RETRY_KEYS:
            col.error(key_pos(node, key), name, "unknown key", did_you_mean(str(key), _RETRY_KEYS))
            continue
        value = node[key]
        sources[name] = col.source(value_pos(node, key))
        if key == "max_retries":
            values[key] = _max_retries(node, col, name)
            continue
        kind = "bool" if key == "follow_up_on_same_agent" else "number"
        ok, converted = _scalar(value, kind)
        if not ok:
            col.error(value_pos(node, key), name, f"must be {_KIND_WORDS[kind]}, got {value!r}")
        else:
            values[key] = converted
    return RetryPolicy(**values)


def _max_retries(node: Any, col: Collector, name: str) -> dict[Priority, int]:
    value = node["max_retries"]
    result = dict(RetryPolicy().max_retries)
    if not isinstance(value, dict):
        col.error(
            value_pos(node, "max_retries"),
            name,
            "must map priorities to counts",
            "e.g. {P0: 3, P1: 1}",
        )
        return result
    for key, count in value.items():
        label = str(key).upper()
        if label not in Priority.__members__:
            col.error(
                key_pos(value, key), f"{name}.{key}", "unknown priority", "use P0, P1, P2 or P3"
            )
        elif not _is_int(count):
            col.error(
                value_pos(value, key), f"{name}.{key}", f"must be a whole number, got {count!r}"
            )
        else:
            result[Priority(label)] = int(count)
    return result


_CHOICES: dict[str, tuple[str, ...]] = {
    "on_batch_failure": ("wait", "prompt", "abort", "skip", "fail"),
    "on_checkpoint": ("wait", "prompt", "continue"),
}


def _gate_overrides(node: Any, key: str, col: Collector, name: str) -> dict[str, str] | None:
    """`gate_overrides: {IT-001: "npm test -- x"}`: a command per integration test."""
    value = node[key]
    if not isinstance(value, dict):
        col.error(
            value_pos(node, key),
            name,
            "must map test ids to commands",
            'e.g. {IT-001: "npm run test:integration -- tests/x.test.ts"}',
        )
        return None
    result: dict[str, str] = {}
    for test_id, command in value.items():
        if not isinstance(command, str) or not command.strip():
            col.error(value_pos(value, test_id), f"{name}.{test_id}", "must be a command line")
        else:
            result[str(test_id)] = command
    return result


def _tiers(node: Any, key: str, col: Collector, name: str) -> dict[str, str | None] | None:
    value = node[key]
    if not isinstance(value, dict):
        col.error(value_pos(node, key), name, "must map low/medium/high to model names")
        return None
    result: dict[str, str | None] = {tier: None for tier in _TIERS}
    for tier, model in value.items():
        if tier not in _TIERS:
            col.error(
                key_pos(value, tier),
                f"{name}.{tier}",
                "unknown tier",
                did_you_mean(str(tier), _TIERS),
            )
        elif model is not None and not isinstance(model, str):
            col.error(value_pos(value, tier), f"{name}.{tier}", "must be a model name or null")
        else:
            result[str(tier)] = None if model is None else str(model)
    return result


def _strategy_section(
    root: Any, section: str, col: Collector, values: dict[str, Any], sources: dict[str, Source]
) -> None:
    node = root[section]
    if not isinstance(node, dict):
        col.error(value_pos(root, section), section, "must be a mapping of limits")
        return
    for key in node:
        name = f"{section}.{key}"
        if key not in _STRATEGY_KEYS:
            col.error(
                key_pos(node, key), name, "unknown key", did_you_mean(str(key), _STRATEGY_KEYS)
            )
            continue
        value = node[key]
        pos = value_pos(node, key)
        if key == "agent_spawning":
            _spawning(node, col, name, values, sources)
            continue
        if key in values and values[key] != value:
            col.warn(
                pos,
                "strategy_conflict",
                name,
                f"also set in execution_limits; execution_strategy's {value!r} wins",
            )
        sources[f"execution_strategy.{key}"] = col.source(pos)
        kind = _kind(str(key))
        if kind == "type":
            text = str(value).strip().lower() if isinstance(value, str) else None
            if text not in {s.value for s in StrategyType}:
                col.error(
                    pos,
                    name,
                    f"unknown strategy {value!r}",
                    did_you_mean(str(value), ("multi_agent", "sequential")),
                )
            else:
                values["type"] = StrategyType(text)
        elif kind == "retry":
            values["retry"] = _retry(value, col, name, sources)
        elif kind == "model_tiers":
            tiers = _tiers(node, key, col, name)
            if tiers is not None:
                values["model_tiers"] = tiers
        elif kind == "gate_overrides":
            overrides = _gate_overrides(node, key, col, name)
            if overrides is not None:
                values["gate_overrides"] = overrides
        elif kind == "choice":
            allowed = _CHOICES[str(key)]
            if value is None or (isinstance(value, str) and value in allowed):
                values[str(key)] = value
            else:
                col.error(
                    pos,
                    name,
                    f"must be one of {', '.join(allowed)}, got {value!r}",
                    did_you_mean(str(value), allowed),
                )
        else:
            ok, converted = _scalar(value, kind)
            if ok:
                values[str(key)] = converted
            else:
                col.error(pos, name, f"must be {_KIND_WORDS[kind]}, got {value!r}")


def _spawning(
    node: Any, col: Collector, name: str, values: dict[str, Any], sources: dict[str, Source]
) -> None:
    spawn = node["agent_spawning"]
    if not isinstance(spawn, dict):
        col.error(value_pos(node, "agent_spawning"), name, "must be a mapping")
        return
    for key in spawn:
        if key not in _SPAWNING_KEYS:
            col.error(
                key_pos(spawn, key),
                f"{name}.{key}",
                "unknown key",
                did_you_mean(str(key), _SPAWNING_KEYS),
            )
    if spawn.get("enabled") is not None and not isinstance(spawn.get("enabled"), bool):
        col.error(value_pos(spawn, "enabled"), f"{name}.enabled", "must be true or false")
    if "status_file" in spawn:
        status_file = _text(spawn, "status_file", col, f"{name}.status_file")
        values["status_file"] = status_file or None
        sources["execution_strategy.status_file"] = col.source(value_pos(spawn, "status_file"))


def parse_limits(
    root: Any, col: Collector, override: StrategyType | None
) -> tuple[Limits, dict[str, Source]]:
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    present = [s for s in ("execution_limits", "execution_strategy") if s in root]
    for section in present:
        _strategy_section(root, section, col, values, sources)
    if override is not None:
        values["type"] = override
    elif "type" not in values and not any(
        isinstance(root[s], dict) and "type" in root[s] for s in present
    ):
        where = key_pos(root, present[-1]) if present else node_pos(root)
        col.error(
            where,
            "execution_strategy.type",
            "missing: orchd does not know how to run the release",
            "add `type: multi_agent` under execution_strategy, or pass --strategy multi_agent",
        )
    try:
        return Limits(**values), sources
    except ValueError as exc:
        col.error(node_pos(root), "execution_strategy", f"invalid: {exc}".splitlines()[0])
        return Limits(), sources


def _choice(node: Any, key: str, col: Collector, name: str, enum: Any, fix: str) -> Any:
    value = node.get(key)
    if value is None:
        return None
    text = str(value).strip()
    for member in enum:
        if text.lower() == member.value.lower():
            return member
    col.error(value_pos(node, key), name, f"unknown value {value!r}", fix)
    return None


def _feature_unit(node: Any, index: int, seq: Any, col: Collector) -> FeatureUnit | None:
    pos = value_pos(seq, index)
    if not isinstance(node, dict):
        col.error(pos, f"feature_units[{index}]", "must be a mapping with at least `id`")
        return None
    fu_id = node.get("id")
    if not isinstance(fu_id, str) or not FU_ID_RE.match(fu_id):
        col.error(
            value_pos(node, "id") if "id" in node else pos,
            f"feature_units[{index}].id",
            f"missing or not a valid FU id: {fu_id!r}",
            'use ids such as "FU-110"',
        )
        return None
    fu_id = str(fu_id)
    name = f"feature_units[{fu_id}]"
    fields: dict[str, Any] = {"id": fu_id, "source": col.source(pos)}
    fields["name"] = _text(node, "name", col, f"{name}.name")
    fields["notes"] = _text(node, "notes", col, f"{name}.notes")
    fields["description"] = _text(node, "description", col, f"{name}.description")
    priority = _choice(node, "priority", col, f"{name}.priority", Priority, "use P0, P1, P2 or P3")
    if priority is not None:
        fields["priority"] = priority
    risk_key = "risk_level" if "risk_level" in node else "risk"
    risk = _choice(node, risk_key, col, f"{name}.{risk_key}", RiskLevel, "use low, medium or high")
    if risk is not None:
        fields["risk_level"] = risk
    fields["dependencies"] = _id_list(node, "dependencies", col, f"{name}.dependencies")
    minutes = node.get("max_duration_minutes")
    if minutes is not None:
        if _is_number(minutes):
            fields["max_duration_minutes"] = float(minutes)
        else:
            col.error(
                value_pos(node, "max_duration_minutes"),
                f"{name}.max_duration_minutes",
                f"must be a number of minutes, got {minutes!r}",
            )
    if node.get("model") is not None:
        fields["model"] = _text(node, "model", col, f"{name}.model") or None
    fields["extra"] = {str(k): to_plain(v) for k, v in node.items() if k not in _FU_KEYS}
    return FeatureUnit(**fields)


def _batches(root: Any, col: Collector) -> list[Batch] | None:
    schedule = root.get("execution_schedule")
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        col.error(value_pos(root, "execution_schedule"), "execution_schedule", "must be a mapping")
        return None
    raw = schedule.get("batches")
    if raw is None:
        return None
    if not isinstance(raw, list):
        col.error(value_pos(schedule, "batches"), "execution_schedule.batches", "must be a list")
        return None
    batches: list[Batch] = []
    for index, node in enumerate(raw):
        name = f"execution_schedule.batches[{index}]"
        pos = value_pos(raw, index)
        if not isinstance(node, dict):
            col.error(pos, name, "must be a mapping with batch_id and feature_units")
            continue
        try:
            batch_id = parse_batch_id(node.get("batch_id"))
        except ValueError as exc:
            col.error(
                value_pos(node, "batch_id") if "batch_id" in node else pos,
                f"{name}.batch_id",
                str(exc),
                "use a number such as 0, 0.5 or 3",
            )
            continue
        known = {"batch_id", "feature_units", "dependencies", "title", "name"}
        batches.append(
            Batch(
                batch_id=batch_id,
                feature_units=_id_list(node, "feature_units", col, f"{name}.feature_units"),
                dependencies=_id_list(node, "dependencies", col, f"{name}.dependencies"),
                title=_text(node, "title", col, f"{name}.title") or _text(node, "name", col, name),
                extra={str(k): to_plain(v) for k, v in node.items() if k not in known},
                source=col.source(pos),
            )
        )
    return batches


def _deferred(root: Any, col: Collector) -> dict[str, str]:
    """FU ids of every top-level `deferred*` section (list of {id: …}, of "FU-1: …", or map)."""
    found: dict[str, str] = {}
    for key in root:
        if not str(key).lower().startswith("deferred"):
            continue
        value = root[key]
        items: list[tuple[Any, Any]] = []
        if isinstance(value, list):
            items = [
                (v.get("id") if isinstance(v, dict) else v, value_pos(value, i))
                for i, v in enumerate(value)
            ]
        elif isinstance(value, dict):
            items = [(k, key_pos(value, k)) for k in value]
        for item, pos in items:
            match = _LEADING_FU_RE.match(item) if isinstance(item, str) else None
            if match:
                found.setdefault(match.group(1), str(key))
            else:
                col.warn(
                    pos,
                    "deferred_unreadable",
                    str(key),
                    f"entry {to_plain(item)!r} names no FU id; ignored",
                )
    return found


def _checkpoints(root: Any, col: Collector) -> list[Checkpoint]:
    node = root.get("checkpoints")
    if node is None:
        return []
    if not isinstance(node, dict):
        col.error(
            value_pos(root, "checkpoints"),
            "checkpoints",
            "must map checkpoint_<name>_after_batch to a batch id",
        )
        return []
    result: list[Checkpoint] = []
    for key in node:
        match = _CHECKPOINT_RE.match(str(key))
        if not match:
            col.warn(
                key_pos(node, key),
                "checkpoint_ignored",
                f"checkpoints.{key}",
                "not of the form checkpoint_<name>_after_batch; ignored",
            )
            continue
        try:
            after = parse_batch_id(node[key])
        except ValueError as exc:
            col.error(value_pos(node, key), f"checkpoints.{key}", str(exc))
            continue
        result.append(
            Checkpoint(
                name=match.group(1), after_batch=after, source=col.source(key_pos(node, key))
            )
        )
    return result


def parse_manifest(
    text: str, *, file: str, strategy_override: StrategyType | None = None
) -> tuple[ManifestData, Collector]:
    """Everything orchd uses from a manifest; problems are collected, never raised."""
    col = Collector(file)
    root = read_yaml(text, col)
    data = ManifestData()
    if root is UNSET:
        return data, col
    if not isinstance(root, dict):
        col.error(
            node_pos(root) or (1, 1),
            "manifest",
            "must be a YAML mapping (release:, execution_strategy:, feature_units: …)",
        )
        return data, col
    data.readable = True
    release = root.get("release")
    if isinstance(release, dict):
        data.release_pos = value_pos(release, "id") if "id" in release else key_pos(root, "release")
        data.release_id = _text(release, "id", col, "release.id") or None
        data.name = _text(release, "name", col, "release.name")
        data.status = _text(release, "status", col, "release.status")
    elif release is not None:
        col.error(value_pos(root, "release"), "release", "must be a mapping with id, name, status")
    data.limits, data.limit_sources = parse_limits(root, col, strategy_override)
    units = root.get("feature_units")
    if isinstance(units, list):
        for index, node in enumerate(units):
            unit = _feature_unit(node, index, units, col)
            if unit is not None:
                data.feature_units.append(unit)
    elif units is not None:
        col.error(value_pos(root, "feature_units"), "feature_units", "must be a list of FUs")
    data.batches = _batches(root, col)
    data.deferred = _deferred(root, col)
    data.checkpoints = _checkpoints(root, col)
    return data, col
