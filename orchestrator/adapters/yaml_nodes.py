"""Parse YAML with ruamel and read its nodes so every problem names its own line:col.

Shared by the manifest and strategy readers, so orchd's release reading touches ruamel here only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase

from orchestrator.core.findings import Finding
from orchestrator.core.near_names import closest_name
from orchestrator.errors import LocatedError
from orchestrator.models.release import Source

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


def is_int(value: Any) -> bool:
    """A YAML whole number (YAML's true/false are not counts)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def text_field(node: Any, key: str, col: Collector, name: str, default: str = "") -> str:
    """`node[key]` as text (numbers allowed); anything else is a located error."""
    value = node.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return str(value)
    if is_number(value):
        return str(value)
    col.error(value_pos(node, key), name, f"must be text, got {type(value).__name__}", "quote it")
    return default


def warn_near_misses(col: Collector, node: Any, name: str, known: Iterable[str]) -> None:
    """Warn about each key of the mapping `node` that orchd does not read but that is close to
    one it does (`depends_on` for `dependencies`): otherwise the typo silently drops a setting.
    Other unknown keys are the file's own business and pass without a word."""
    names = set(known)
    for key in node:
        if not isinstance(key, str) or key in names:
            continue
        close = closest_name(key, names)
        if close is not None:
            col.warn(
                key_pos(node, key),
                "near_miss_key",
                f"{name}.{key}" if name else key,
                "is not a key orchd reads, so it is ignored",
                f"did you mean `{close}`?",
            )
