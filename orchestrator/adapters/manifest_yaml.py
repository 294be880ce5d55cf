"""Read a release `manifest.yaml` into `ManifestData`, keeping line:col for errors.

Interprets release, feature_units, execution_schedule.batches, checkpoints and `deferred*`
sections (execution_strategy / execution_limits are read by `strategy_yaml`); keeps every other
section untouched. Values are checked by hand (not by pydantic) so each problem names its own
file:line:col.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orchestrator.adapters.strategy_yaml import LimitSources, parse_limits
from orchestrator.adapters.yaml_nodes import (
    UNSET,
    Collector,
    is_number,
    key_pos,
    node_pos,
    read_yaml,
    text_field,
    to_plain,
    value_pos,
    warn_near_misses,
)
from orchestrator.core.near_names import closest_name
from orchestrator.models.batch_id import format_batch_id, parse_batch_id
from orchestrator.models.release import (
    Batch,
    Checkpoint,
    FeatureUnit,
    Limits,
    Priority,
    RiskLevel,
    StrategyType,
)

MAX_FU_ID_LENGTH = 100
"""An FU id names files (its spec folder), branches and agents."""
FU_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LEADING_FU_RE = re.compile(r"^\s*(FU-[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*)")
_CHECKPOINT_RE = re.compile(r"^checkpoint_(.+)_after_batch$")
_FIRST_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_TRIGGER_RE = re.compile(r"^\s*after[_ ]batch[_ ]?(\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
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
_TOP_KEYS = {
    "release",
    "execution_strategy",
    "execution_limits",
    "feature_units",
    "execution_schedule",
    "checkpoints",
}
"""Top-level sections orchd reads, besides any `deferred*` one."""
_RELEASE_KEYS = {"id", "name", "status"}
_SCHEDULE_KEYS = {"batches"}
_BATCH_KEYS = {"batch_id", "feature_units", "dependencies", "title", "name"}
_CHECKPOINT_ITEM_KEYS = {"id", "name", "trigger", "after_batch"}


@dataclass
class ManifestData:
    """What the manifest says, before plan-wide checks."""

    release_id: str | None = None
    name: str = ""
    status: str = ""
    limits: Limits = field(default_factory=Limits)
    limit_sources: LimitSources = field(default_factory=LimitSources)
    feature_units: list[FeatureUnit] = field(default_factory=list)
    batches: list[Batch] | None = None
    deferred: dict[str, str] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    release_pos: tuple[int, int] | None = None
    readable: bool = False
    """False when the file is not a YAML mapping: nothing else can be checked."""


def _too_long(fu_id: str) -> str:
    return (
        f"FU id {fu_id[:20]}… is {len(fu_id)} characters long, at most {MAX_FU_ID_LENGTH}: "
        "it names files and branches"
    )


@dataclass(frozen=True)
class _BatchRef:
    """A batch's dependency given as a batch id (`dependencies: [0]`): every FU of that batch."""

    batch_id: Decimal
    pos: tuple[int, int] | None
    name: str


_NUMERIC_RE = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def _id_list(
    node: Any, key: str, col: Collector, name: str, batch_refs: list[_BatchRef] | None = None
) -> tuple[str, ...]:
    """FU ids of a list (duplicates dropped); with `batch_refs`, numbers are batch ids."""
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
    ids: dict[str, None] = {}
    for index, item in enumerate(value):
        if batch_refs is not None and (
            is_number(item) or (isinstance(item, str) and _NUMERIC_RE.match(item))
        ):
            try:
                batch_refs.append(
                    _BatchRef(parse_batch_id(item), value_pos(value, index), f"{name}[{index}]")
                )
            except ValueError as exc:
                col.error(value_pos(value, index), f"{name}[{index}]", str(exc))
            continue
        if isinstance(item, str) and len(item) > MAX_FU_ID_LENGTH:
            col.error(
                value_pos(value, index),
                f"{name}[{index}]",
                _too_long(item),
                "use a short id such as FU-100",
            )
            continue
        if not isinstance(item, str) or not FU_ID_RE.match(item):
            col.error(
                value_pos(value, index),
                f"{name}[{index}]",
                f"not an FU id: {item!r}",
                'use ids such as "FU-100"' + (" or batch ids such as 0" if batch_refs else ""),
            )
            continue
        ids.setdefault(str(item))
    return tuple(ids)


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
    if isinstance(fu_id, str) and len(fu_id) > MAX_FU_ID_LENGTH:
        col.error(
            value_pos(node, "id"), f"feature_units[{index}].id", _too_long(fu_id), "use a short id"
        )
        return None
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
    warn_near_misses(col, node, name, _FU_KEYS)
    fields: dict[str, Any] = {"id": fu_id, "source": col.source(pos)}
    fields["name"] = text_field(node, "name", col, f"{name}.name")
    fields["notes"] = text_field(node, "notes", col, f"{name}.notes")
    fields["description"] = text_field(node, "description", col, f"{name}.description")
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
        if is_number(minutes):
            fields["max_duration_minutes"] = float(minutes)
        else:
            col.error(
                value_pos(node, "max_duration_minutes"),
                f"{name}.max_duration_minutes",
                f"must be a number of minutes, got {minutes!r}",
            )
    if node.get("model") is not None:
        fields["model"] = text_field(node, "model", col, f"{name}.model") or None
    fields["extra"] = {str(k): to_plain(v) for k, v in node.items() if k not in _FU_KEYS}
    return FeatureUnit(**fields)


def _batches(root: Any, col: Collector) -> tuple[list[Batch] | None, dict[int, list[_BatchRef]]]:
    """The manifest's batches, and per batch (by position) the batch ids its dependencies name."""
    refs: dict[int, list[_BatchRef]] = {}
    schedule = root.get("execution_schedule")
    if schedule is None:
        return None, refs
    if not isinstance(schedule, dict):
        col.error(value_pos(root, "execution_schedule"), "execution_schedule", "must be a mapping")
        return None, refs
    warn_near_misses(col, schedule, "execution_schedule", _SCHEDULE_KEYS)
    raw = schedule.get("batches")
    if raw is None:
        return None, refs
    if not isinstance(raw, list):
        col.error(value_pos(schedule, "batches"), "execution_schedule.batches", "must be a list")
        return None, refs
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
        warn_near_misses(col, node, name, _BATCH_KEYS)
        batch_refs: list[_BatchRef] = []
        dependencies = _id_list(node, "dependencies", col, f"{name}.dependencies", batch_refs)
        if batch_refs:
            refs[len(batches)] = batch_refs
        batches.append(
            Batch(
                batch_id=batch_id,
                feature_units=_id_list(node, "feature_units", col, f"{name}.feature_units"),
                dependencies=dependencies,
                title=text_field(node, "title", col, f"{name}.title")
                or text_field(node, "name", col, name),
                extra={str(k): to_plain(v) for k, v in node.items() if k not in _BATCH_KEYS},
                source=col.source(pos),
            )
        )
    return batches, refs


def _expand_batch_refs(
    batches: list[Batch],
    refs: dict[int, list[_BatchRef]],
    deferred: Mapping[str, str],
    col: Collector,
) -> list[Batch]:
    """`dependencies: [0]` (neotoma v0.9.0) means every FU of batch 0 that runs."""
    if not refs:
        return batches
    members: dict[Decimal, tuple[str, ...]] = {}
    for batch in batches:
        members.setdefault(batch.batch_id, batch.feature_units)
    result = list(batches)
    for index, batch_refs in refs.items():
        batch = batches[index]
        deps = dict.fromkeys(batch.dependencies)
        for ref in batch_refs:
            label = format_batch_id(ref.batch_id)
            if ref.batch_id == batch.batch_id:
                col.error(ref.pos, ref.name, f"batch {label} depends on itself", "remove it")
            elif ref.batch_id not in members:
                col.error(
                    ref.pos,
                    ref.name,
                    f"batch {label} is not in execution_schedule.batches",
                    "use one of: " + ", ".join(format_batch_id(b) for b in sorted(members)),
                )
            else:
                deps.update(dict.fromkeys(f for f in members[ref.batch_id] if f not in deferred))
        result[index] = batch.model_copy(update={"dependencies": tuple(deps)})
    return result


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
    if isinstance(node, list):
        return _checkpoint_list(node, col)
    if not isinstance(node, dict):
        col.error(
            value_pos(root, "checkpoints"),
            "checkpoints",
            "must map checkpoint_<name>_after_batch to a batch id, or list "
            '{id, trigger: "after_batch_<id>"} entries',
        )
        return []
    result: list[Checkpoint] = []
    for key in node:
        match = _CHECKPOINT_RE.match(str(key))
        if not match:
            meant = _meant_checkpoint(str(key))
            col.warn(
                key_pos(node, key),
                "checkpoint_ignored",
                f"checkpoints.{key}",
                "not of the form checkpoint_<name>_after_batch; ignored",
                f"did you mean `{meant}`?" if meant else "",
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


def _meant_checkpoint(key: str) -> str | None:
    """`checkpoint_1_after_bacth` → `checkpoint_1_after_batch`: the well-formed key closest to a
    malformed one, named by the first number in it (a checkpoint's usual name)."""
    number = _FIRST_NUMBER_RE.search(key)
    if number is None:
        return None
    return closest_name(key, {f"checkpoint_{number.group(0)}_after_batch"})


def _checkpoint_list(node: list[Any], col: Collector) -> list[Checkpoint]:
    """neotoma v0.9.0: `- {id: "checkpoint_1", name: …, trigger: "after_batch_1", …}`."""
    result: list[Checkpoint] = []
    for index, item in enumerate(node):
        label = f"checkpoints[{index}]"
        if not isinstance(item, dict):
            col.warn(
                value_pos(node, index),
                "checkpoint_ignored",
                label,
                'not a mapping with `trigger: "after_batch_<id>"`; ignored',
            )
            continue
        warn_near_misses(col, item, label, _CHECKPOINT_ITEM_KEYS)
        key = "after_batch" if "after_batch" in item else "trigger"
        raw = item.get(key)
        text = str(raw) if key == "after_batch" and raw is not None else raw
        match = _TRIGGER_RE.match(text) if key == "trigger" and isinstance(text, str) else None
        if key == "trigger" and match is None:
            col.warn(
                value_pos(item, key) if key in item else value_pos(node, index),
                "checkpoint_ignored",
                f"{label}.{key}",
                f"{raw!r} names no batch (after_batch_<id>); ignored",
                'write trigger: "after_batch_1"',
            )
            continue
        try:
            after = parse_batch_id(match.group(1) if match else raw)
        except ValueError as exc:
            col.error(value_pos(item, key), f"{label}.{key}", str(exc))
            continue
        ident = item.get("id")
        name = (
            str(ident).removeprefix("checkpoint_").removeprefix("checkpoint-")
            if isinstance(ident, str | int) and not isinstance(ident, bool) and str(ident)
            else str(index + 1)
        )
        result.append(
            Checkpoint(
                name=name,
                after_batch=after,
                source=col.source(value_pos(item, key)),
                key=f"{label}.{key}",
            )
        )
    return result


def _top_level_near_misses(root: Any, col: Collector) -> None:
    """Typos of the sections orchd reads (`checkpoint:` drops every review pause), including
    a `deferred*` section spelt `defered_to_v030` (its FUs would be scheduled after all)."""
    known = set(_TOP_KEYS)
    for key in root:
        text = str(key)
        if text.lower().startswith("deferred"):
            known.add(text)
        elif "_" in text:
            known.add("deferred" + text[text.index("_") :])
    warn_near_misses(col, root, "", known)


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
    _top_level_near_misses(root, col)
    release = root.get("release")
    if isinstance(release, dict):
        warn_near_misses(col, release, "release", _RELEASE_KEYS)
        data.release_pos = value_pos(release, "id") if "id" in release else key_pos(root, "release")
        data.release_id = text_field(release, "id", col, "release.id") or None
        data.name = text_field(release, "name", col, "release.name")
        data.status = text_field(release, "status", col, "release.status")
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
    batches, refs = _batches(root, col)
    data.deferred = _deferred(root, col)
    data.batches = (
        None if batches is None else _expand_batch_refs(batches, refs, data.deferred, col)
    )
    data.checkpoints = _checkpoints(root, col)
    return data, col
