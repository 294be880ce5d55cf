"""Which known name a mistyped one most likely meant (`dependences` → `dependencies`).

Release files carry keys orchd does not read, so an unknown key is not wrong by itself; only
one close to a key orchd does read is worth a "did you mean". Close means: the same but for
case, `_`/`-`/camelCase or a plural; a few edits away for a long name (none for a name of
three letters, whose neighbours are mostly real words); or a synonym other tools use
(`depends_on`). The same measure orders release ids for "did you mean" lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SYNONYMS: dict[str, str] = {
    "dependson": "dependencies",
    "dependon": "dependencies",
    "depends": "dependencies",
    "deps": "dependencies",
    "strategy": "execution_strategy",
    "schedule": "execution_schedule",
}
"""Compact spellings (see `compact`) other tools use for a key orchd knows: docker compose's
`depends_on`, and the manifest's sections without their `execution_` prefix. Used only when the
key they name is one the caller knows."""

_SEPARATORS = re.compile(r"[\s_\-.]+")
_SIBILANT_PLURAL = ("ches", "shes", "sses", "xes", "zes")


def compact(name: str) -> str:
    """Lower case without separators: `Risk-Level`, `risk_level` and `riskLevel` are one name."""
    return _SEPARATORS.sub("", name).lower()


def singular(word: str) -> str:
    """A compact name without its plural ending (`dependencies` → `dependency`)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(_SIBILANT_PLURAL):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    two neighbouring letters (`nmae` is one edit from `name`)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def allowed_edits(length: int) -> int:
    """How many edits still read as a typo of a name this long."""
    if length <= 3:
        return 0
    if length <= 5:
        return 1
    if length <= 10:
        return 2
    return 3


def closeness(word: str, known: str) -> int | None:
    """How far `word` is from meaning `known` (0: the same but for spelling conventions), or
    None when it is plainly another name."""
    a, b = compact(word), compact(known)
    if not a or not b:
        return None
    if a == b or singular(a) == singular(b):
        return 0
    if SYNONYMS.get(a) == known:
        return 1
    distance = edit_distance(singular(a), singular(b))
    return distance if distance <= allowed_edits(len(b)) else None


def closest_name(word: str, known: Iterable[str]) -> str | None:
    """The known name `word` most likely misspells, or None. `word` itself is never returned:
    callers ask only about names they do not know."""
    scored = [
        (score, name)
        for name in known
        if name != word and (score := closeness(word, name)) is not None
    ]
    return min(scored)[1] if scored else None


def did_you_mean(word: str, known: Iterable[str], *, noun: str = "known keys") -> str:
    """The fix for an unknown name: the closest known one, else the whole list."""
    names = sorted(set(known))
    close = closest_name(word, names)
    return f"did you mean `{close}`?" if close else f"{noun}: " + ", ".join(names)


def _common_start(a: str, b: str) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def by_closeness(word: str, names: Iterable[str]) -> list[str]:
    """`names` ordered closest to `word` first: edit distance ignoring case, then the longer
    common start (`v0.2.1` is nearer `v0.2.0` than `v0.1.1`), then alphabetical order."""
    target = word.lower()

    def key(name: str) -> tuple[int, int, str]:
        lowered = name.lower()
        shared = _common_start(target, lowered)
        return edit_distance(target, lowered), -shared, name

    return sorted(set(names), key=key)
