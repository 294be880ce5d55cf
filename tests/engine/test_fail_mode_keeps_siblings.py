"""`--on-batch-failure fail` as `orchd start` builds it (through the daemon's decision modes).

Issue 4's behaviour: an escalated FU fails its batch, but the FUs that can run keep running to
their end; only the wait/prompt/skip/abort modes stop the siblings to ask a human at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.configure import DecisionModes
from orchestrator.fakecursor.scenario import CreateError, FuBehaviour, Scenario
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import run_on_fake
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
NO_ACCESS = CreateError(status=403, code="repository_access", message="no access")


async def test_fail_mode_from_the_command_line_lets_running_siblings_finish(
    tmp_path: Path,
) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=30 * MIN),
        fus={"FU-1": FuBehaviour(create_error=NO_ACCESS)},
    )
    p = plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1")], [("0", ["FU-1", "FU-2"]), ("1", ["FU-3"])]
    )
    ran = await run_on_fake(
        p,
        scenario,
        tmp_path,
        modes=DecisionModes(on_batch_failure="fail", on_checkpoint="continue", deadline_s=None),
    )
    status, outcome, fake = ran.status, ran.outcome, ran.fake
    statuses = {f["fu_id"]: f["status"] for b in status["batches"] for f in b["feature_units"]}
    assert outcome.status is ReleaseStatus.FAILED
    # FU-2 finished and is merged into the batch's candidate, but the batch never lands
    assert statuses == {"FU-1": "needs_human", "FU-2": "merged", "FU-3": "blocked"}
    assert fake.stats()["cancels_per_fu"] == {}
    assert status["orchestrator"]["awaiting"] is None
