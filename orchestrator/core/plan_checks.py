"""Pure validation of a release plan: what makes it wrong, what is merely odd, can it finish.

orchd's rule (shared with `core.scheduling`): an FU starts when its own dependencies and its
batch's `dependencies` are complete. Dependencies outside the release are assumed complete.
Decisions documented here because the loader and the engine both rely on them:
- an FU listed in a `deferred*` section never runs and never completes, so an FU (or batch)
  that depends on it would wait forever: that is an error, not a warning;
- an FU in no batch never runs: a warning, unless something depends on it (then an error);
- a batch listing one of its own members as a dependency makes the other members wait for it
  (the member itself ignores it, as `scheduling.prerequisites` does): a warning.
Under `strict_batches` (the seed's literal rule) a batch also waits for every earlier batch;
the deadlocks that causes are errors. A checkpoint holds every later batch, so an FU at or
before it that waits for an FU after it is a deadlock too (an error). A dependency in another
batch is met only when that whole batch lands (all its FUs merged, its tests passed), so two
batches that each hold an FU waiting for the other can never land (`landing_cycle`, an error).
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.core.dependency_graph import derive_batches, find_cycles
from orchestrator.core.findings import Finding
from orchestrator.core.plan_dependencies import (
    checkpoint_findings,
    cycle_findings,
    deadlock_findings,
    dependency_findings,
    landing_cycle_findings,
)
from orchestrator.core.plan_index import index_plan
from orchestrator.core.plan_structure import limit_findings, structure_findings, unit_limit_findings
from orchestrator.core.plan_waits import build_waits
from orchestrator.models.release import ReleasePlan, Source

__all__ = ["Finding", "check_plan", "derive_batches", "find_cycles"]


def check_plan(
    plan: ReleasePlan,
    *,
    strict_batches: bool = False,
    where: Source | None = None,
    limit_sources: Mapping[str, Source] | None = None,
    limit_labels: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every error and warning about `plan`; `where` names the manifest for plan-wide ones.

    `limit_sources` / `limit_labels`: where each `execution_strategy.<key>` was set and how it
    was written there (`execution_limits.<key>` too), so a bad limit names its own line.
    """
    ix = index_plan(plan)
    found = structure_findings(plan, ix, where)
    found += limit_findings(plan.limits, limit_sources or {}, where, limit_labels or {})
    found += unit_limit_findings(plan)
    found += dependency_findings(ix, strict_batches)
    found += cycle_findings(ix)
    waits = build_waits(ix)
    found += deadlock_findings(ix, strict_batches, found, waits)
    found += landing_cycle_findings(ix, waits)
    found += checkpoint_findings(plan, ix)
    return found
