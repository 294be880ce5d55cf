"""Read a manifest's `execution_limits` / `execution_strategy` sections into `Limits`.

A typo here silently changes how a release runs, so unknown keys are errors with a
"did you mean" hint, and every value is checked by hand so each problem names its file:line:col.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.adapters.yaml_nodes import (
    Collector,
    is_int,
    is_number,
    key_pos,
    node_pos,
    text_field,
    value_pos,
)
from orchestrator.core.near_names import did_you_mean
from orchestrator.models.release import Limits, Priority, RetryPolicy, Source, StrategyType

_SPAWNING_KEYS = {"enabled", "status_tracking", "status_file"}
_STRATEGY_KEYS = (set(Limits.model_fields) - {"status_file"}) | {"agent_spawning"}
_RETRY_KEYS = set(RetryPolicy.model_fields)
_TIERS = ("low", "medium", "high")
_CHOICES: dict[str, tuple[str, ...]] = {
    "on_batch_failure": ("wait", "prompt", "abort", "skip", "fail"),
    "on_checkpoint": ("wait", "prompt", "continue"),
}
_STRATEGY_ALIASES = {"single": StrategyType.SEQUENTIAL, "single_agent": StrategyType.SEQUENTIAL}
"""neotoma's other words for one agent at a time: `type: "single"` (v0.2.2, a one-FU release)
and `type: "single_agent"` (docs/developer/release_orchestrator.md)."""
_KIND_WORDS = {
    "bool": "true or false",
    "int": "a whole number",
    "number": "a number",
    "text?": "text",
}


def _unknown_key(
    col: Collector,
    node: Any,
    key: Any,
    name: str,
    known: set[str] | tuple[str, ...],
    problem: str = "unknown key",
) -> None:
    """A misspelt key would silently be ignored, so it is an error with the closest known key."""
    col.error(key_pos(node, key), name, problem, did_you_mean(str(key), known))


def _known_entries(
    col: Collector, node: Any, prefix: str, known: set[str]
) -> Iterator[tuple[Any, str]]:
    """Each known key of `node` with its field name; unknown ones are reported in file order."""
    for key in node:
        name = f"{prefix}.{key}"
        if key not in known:
            _unknown_key(col, node, key, name, known)
            continue
        yield key, name


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
        return is_int(value), int(value) if is_int(value) else value
    if kind == "number":
        return is_number(value), float(value) if is_number(value) else value
    if kind == "text?":
        return value is None or isinstance(value, str), None if value is None else str(value)
    return False, value


@dataclass
class LimitSources:
    """Where each limit was set: `execution_strategy.<key>` (also for keys written under
    `execution_limits`) → its source, and → the name as written, for messages."""

    sources: dict[str, Source] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def record(self, canonical: str, label: str, source: Source) -> None:
        self.sources[canonical] = source
        self.labels[canonical] = label


def _retry(node: Any, col: Collector, prefix: str, sources: LimitSources) -> RetryPolicy:
    if not isinstance(node, dict):
        col.error(node_pos(node), prefix, "must be a mapping", "see config/orchd.yaml")
        return RetryPolicy()
    values: dict[str, Any] = {}
    for key, name in _known_entries(col, node, prefix, _RETRY_KEYS):
        value = node[key]
        sources.record(f"execution_strategy.retry.{key}", name, col.source(value_pos(node, key)))
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
        elif not is_int(count):
            col.error(
                value_pos(value, key), f"{name}.{key}", f"must be a whole number, got {count!r}"
            )
        else:
            result[Priority(label)] = int(count)
    return result


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
            _unknown_key(col, value, tier, f"{name}.{tier}", _TIERS, "unknown tier")
        elif model is not None and not isinstance(model, str):
            col.error(value_pos(value, tier), f"{name}.{tier}", "must be a model name or null")
        else:
            result[str(tier)] = None if model is None else str(model)
    return result


def _strategy_section(
    root: Any, section: str, col: Collector, values: dict[str, Any], sources: LimitSources
) -> None:
    node = root[section]
    if not isinstance(node, dict):
        col.error(value_pos(root, section), section, "must be a mapping of limits")
        return
    for key, name in _known_entries(col, node, section, _STRATEGY_KEYS):
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
        sources.record(f"execution_strategy.{key}", name, col.source(pos))
        kind = _kind(str(key))
        if kind == "type":
            text = str(value).strip().lower() if isinstance(value, str) else None
            if text in _STRATEGY_ALIASES:
                values["type"] = _STRATEGY_ALIASES[text]
            elif text not in {s.value for s in StrategyType}:
                col.error(
                    pos,
                    name,
                    f"unknown strategy {value!r}",
                    did_you_mean(
                        str(value), ("multi_agent", "sequential", "single"), noun="use one of"
                    ),
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
                    did_you_mean(str(value), allowed, noun="use one of"),
                )
        else:
            ok, converted = _scalar(value, kind)
            if ok:
                values[str(key)] = converted
            else:
                col.error(pos, name, f"must be {_KIND_WORDS[kind]}, got {value!r}")


def _spawning(
    node: Any, col: Collector, name: str, values: dict[str, Any], sources: LimitSources
) -> None:
    spawn = node["agent_spawning"]
    if not isinstance(spawn, dict):
        col.error(value_pos(node, "agent_spawning"), name, "must be a mapping")
        return
    for key in spawn:
        if key not in _SPAWNING_KEYS:
            _unknown_key(col, spawn, key, f"{name}.{key}", _SPAWNING_KEYS)
    if spawn.get("enabled") is not None and not isinstance(spawn.get("enabled"), bool):
        col.error(value_pos(spawn, "enabled"), f"{name}.enabled", "must be true or false")
    if "status_file" in spawn:
        status_file = text_field(spawn, "status_file", col, f"{name}.status_file")
        values["status_file"] = status_file or None
        sources.record(
            "execution_strategy.status_file",
            f"{name}.status_file",
            col.source(value_pos(spawn, "status_file")),
        )


def parse_limits(
    root: Any, col: Collector, override: StrategyType | None
) -> tuple[Limits, LimitSources]:
    """Limits (execution_strategy wins over execution_limits) and where each was set."""
    values: dict[str, Any] = {}
    sources = LimitSources()
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
