"""The fake's simulated Cursor account: agents, runs, launches, cancels.

No I/O and no clock reading: every method takes `t_s`, the simulated seconds since the fake
started, so the same state serves fake-time tests and a real loopback server.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime
from typing import Any, TypeVar

from orchestrator.fakecursor.api_error import AgentCapRefused, ApiError, validation_error
from orchestrator.fakecursor.bodies import CreateAgentBody, CreateRunBody
from orchestrator.fakecursor.runs import TERMINAL, Agent, Run, iso
from orchestrator.fakecursor.scenario import Scenario

MAX_PAGE = 100
_Item = TypeVar("_Item")


class Simulation:
    """Everything the v1 API can observe, derived lazily from simulated time."""

    def __init__(self, scenario: Scenario, epoch: datetime) -> None:
        self.scenario = scenario
        self.epoch = epoch
        self._ids = random.Random(scenario.seed)
        self.agents: dict[str, Agent] = {}
        self.runs: dict[str, Run] = {}
        self._used_agent_ids: set[str] = set()
        self.launches: Counter[str] = Counter()
        self.cancels: Counter[str] = Counter()
        self.create_errors: Counter[str] = Counter()
        self.cap_refusals: Counter[str] = Counter()  # per FU: refused by the active-agent cap
        self.max_active_agents = 0  # the peak of agents holding a slot at once
        self.git_pending: list[Run] = []  # runs on local repos whose git work is not done yet

    # -- ids and rendering ------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def render_agent(self, agent: Agent, t_s: float) -> dict[str, Any]:
        runs = [self.runs[r] for r in agent.run_ids]
        updated = max([agent.created_s, *(r.updated_s(t_s) for r in runs)])
        body: dict[str, Any] = {
            "id": agent.id,
            "name": agent.name,
            "status": "ARCHIVED" if agent.archived else "ACTIVE",
            "env": agent.env,
            "url": f"https://cursor.com/agents/{agent.id}",
            "createdAt": iso(self.epoch, agent.created_s),
            "updatedAt": iso(self.epoch, updated),
            "repos": agent.repos,
            "workOnCurrentBranch": agent.work_on_current_branch,
            "autoCreatePR": agent.auto_create_pr,
            "skipReviewerRequest": agent.skip_reviewer_request,
        }
        if agent.run_ids:
            body["latestRunId"] = agent.run_ids[-1]
        if agent.custom_subagents:
            body["customSubagents"] = agent.custom_subagents
        return body

    def agent_git(self, agent: Agent, t_s: float, run: Run | None = None) -> dict[str, Any] | None:
        """Per-agent git snapshot: the branch once a run got to work, the PR once one finished.

        On a local repo the branch is real, so it shows only once `run` or an earlier run of
        the agent pushed it (and never a PR: there is no forge behind a path).
        """
        if agent.local_repo is not None:
            upto = (
                agent.run_ids if run is None else agent.run_ids[: agent.run_ids.index(run.id) + 1]
            )
            pushed = any((g := self.runs[r].git) is not None and g.pushed_sha for r in upto)
            if agent.branch is None or not pushed:
                return None
            return {"branches": [{"repoUrl": agent.local_repo, "branch": agent.branch}]}
        repo = agent.repo_url_no_scheme
        runs = [self.runs[r] for r in agent.run_ids]
        if repo is None or agent.branch is None or not any(r.reached_running(t_s) for r in runs):
            return None
        branch: dict[str, Any] = {"repoUrl": repo, "branch": agent.branch}
        pr = agent.pr_url()
        if agent.auto_create_pr and pr and any(r.status(t_s) == "FINISHED" for r in runs):
            branch["prUrl"] = pr
        return {"branches": [branch]}

    def render_run(self, run: Run, t_s: float) -> dict[str, Any]:
        status = run.status(t_s)
        body: dict[str, Any] = {
            "id": run.id,
            "agentId": run.agent_id,
            "status": status,
            "createdAt": iso(self.epoch, run.created_s),
            "updatedAt": iso(self.epoch, run.updated_s(t_s)),
        }
        ended = run.ended_s(t_s)
        if ended is not None:
            body["durationMs"] = round((ended - run.created_s) * 1000)
            body["result"] = "Run cancelled." if status == "CANCELLED" else run.result_text()
        git = self.agent_git(self.agents[run.agent_id], t_s, run)
        if git is not None:
            body["git"] = git
        return body

    # -- lookups ----------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent:
        found = self.agents.get(agent_id)
        if found is None:
            raise ApiError(404, "agent_not_found", f"Agent {agent_id} not found.")
        return found

    def run(self, agent_id: str, run_id: str) -> Run:
        agent = self.agent(agent_id)
        if run_id not in agent.run_ids:
            raise ApiError(404, "run_not_found", f"Run {run_id} not found on agent {agent_id}.")
        return self.runs[run_id]

    def fu_of(self, agent_id: str) -> str | None:
        found = self.agents.get(agent_id)
        return found.fu_id if found else None

    # -- the active-agent cap ---------------------------------------------------------------

    def active_agents(self) -> int:
        """Agents holding a slot: created and neither archived nor deleted (finished or not)."""
        return sum(1 for a in self.agents.values() if not a.archived)

    def _check_slot(self, fu: str | None) -> None:
        """Refuse with the scripted answer when every slot of the cap is taken."""
        cap = self.scenario.active_agent_cap
        if cap is None or self.active_agents() < cap.limit:
            return
        self.cap_refusals[fu or "<no FU>"] += 1
        raise AgentCapRefused(cap.status, cap.code, cap.rendered_message(), cap.headers(), fu)

    def _slot_taken(self) -> None:
        self.max_active_agents = max(self.max_active_agents, self.active_agents())

    # -- launches ---------------------------------------------------------------------------

    def _new_run(self, agent: Agent, t_s: float, prompt: str) -> Run:
        fu = agent.fu_id
        plan = self.scenario.behaviour_for(fu)
        key = fu or "<no FU>"
        self.launches[key] += 1
        launch_no = self.launches[key]
        final = "ERROR" if launch_no <= plan.fail_first_attempts else plan.final_status
        run = Run(
            f"run-{self._uuid()}",
            agent.id,
            fu,
            t_s,
            plan,
            final,
            prompt=prompt,
            launch_no=launch_no,
        )
        self.runs[run.id] = run
        agent.run_ids.append(run.id)
        if agent.local_repo is not None:
            self.git_pending.append(run)
        return run

    def create_agent(self, body: CreateAgentBody, t_s: float) -> dict[str, Any]:
        if body.model is not None and body.model.id not in self.scenario.models:
            raise ApiError(400, "invalid_model", f"Unknown model {body.model.id!r}.")
        if body.agentId is not None and body.agentId in self._used_agent_ids:
            raise ApiError(409, "agent_id_conflict", f"Agent {body.agentId} already exists.")
        fu = self.scenario.match_fu(body.name or "", body.prompt.text)
        plan = self.scenario.behaviour_for(fu)
        self._check_slot(fu)  # after the 409: a retried create adopts, whatever the cap
        scripted = plan.create_error
        key = fu or "<no FU>"
        if scripted and (scripted.times is None or self.create_errors[key] < scripted.times):
            self.create_errors[key] += 1
            raise ApiError(scripted.status, scripted.code, scripted.message)
        agent_id = body.agentId or f"bc-{self._uuid()}"
        repos = [r.model_dump(exclude_none=True) for r in body.repos or []]
        agent = Agent(
            id=agent_id,
            name=body.name or (body.prompt.text.strip().splitlines() or [""])[0][:100] or agent_id,
            fu_id=fu,
            created_s=t_s,
            env=body.env.model_dump(exclude_none=True) if body.env else {"type": "cloud"},
            repos=repos,
            auto_create_pr=body.autoCreatePR,
            work_on_current_branch=body.workOnCurrentBranch,
            skip_reviewer_request=body.skipReviewerRequest,
            custom_subagents=[c.model_dump(exclude_none=True) for c in body.customSubagents]
            if body.customSubagents
            else None,
            branch=self._branch_name(fu, agent_id, repos, body.workOnCurrentBranch),
            pr_number=100 + len(self._used_agent_ids) + 1,
        )
        self.agents[agent_id] = agent
        self._used_agent_ids.add(agent_id)
        self._slot_taken()
        run = self._new_run(agent, t_s, body.prompt.text)
        return {"agent": self.render_agent(agent, t_s), "run": self.render_run(run, t_s)}

    @staticmethod
    def _branch_name(
        fu: str | None, agent_id: str, repos: list[dict[str, Any]], on_current: bool
    ) -> str | None:
        if not repos:
            return None
        if on_current and repos[0].get("startingRef"):
            return str(repos[0]["startingRef"])
        return f"cursor/{(fu or 'agent').lower()}-{agent_id.removeprefix('bc-')[:4]}"

    def create_run(self, agent_id: str, body: CreateRunBody, t_s: float) -> dict[str, Any]:
        agent = self.agent(agent_id)
        if agent.archived:
            raise ApiError(409, "agent_archived", f"Agent {agent_id} is archived.")
        latest = self.runs[agent.run_ids[-1]] if agent.run_ids else None
        if latest is not None and latest.status(t_s) not in TERMINAL:
            raise ApiError(409, "agent_busy", f"Agent {agent_id} already has an active run.")
        run = self._new_run(agent, t_s, body.prompt.text)  # the FU still comes from the agent
        return {"run": self.render_run(run, t_s)}

    def cancel_run(self, agent_id: str, run_id: str, t_s: float) -> dict[str, Any]:
        run = self.run(agent_id, run_id)
        if run.status(t_s) in TERMINAL:
            raise ApiError(409, "run_not_cancellable", f"Run {run_id} is already terminal.")
        run.cancelled_s = t_s
        self.cancels[run.fu_id or "<no FU>"] += 1
        return {"id": run_id}

    # -- agent lifecycle --------------------------------------------------------------------

    def set_archived(self, agent_id: str, archived: bool) -> dict[str, Any]:
        """Archiving frees the agent's slot; unarchiving takes one, so the cap may refuse it."""
        agent = self.agent(agent_id)
        if agent.archived and not archived:
            self._check_slot(agent.fu_id)
        agent.archived = archived
        self._slot_taken()
        return {"id": agent_id}

    def delete_agent(self, agent_id: str, t_s: float) -> dict[str, Any]:
        agent = self.agent(agent_id)
        for run_id in agent.run_ids:  # deleting stops the work; the run records stay for stats
            run = self.runs[run_id]
            if run.status(t_s) not in TERMINAL:
                run.cancelled_s = t_s
        del self.agents[agent_id]
        return {"id": agent_id}

    # -- listings ---------------------------------------------------------------------------

    def list_agents(
        self,
        limit: int,
        cursor: str | None,
        pr_url: str | None,
        include_archived: bool,
        t_s: float,
    ) -> dict[str, Any]:
        agents = [
            a
            for a in reversed(self.agents.values())
            if (include_archived or not a.archived)
            and (pr_url is None or pr_url in {a.pr_url(), *(r.get("prUrl") for r in a.repos)})
        ]
        page, next_cursor = _page(agents, [a.id for a in agents], limit, cursor)
        body: dict[str, Any] = {"items": [self._summary(a, t_s) for a in page]}
        if next_cursor:
            body["nextCursor"] = next_cursor
        return body

    def _summary(self, agent: Agent, t_s: float) -> dict[str, Any]:
        keep = {"id", "name", "status", "env", "url", "createdAt", "updatedAt", "latestRunId"}
        return {k: v for k, v in self.render_agent(agent, t_s).items() if k in keep}

    def list_runs(
        self, agent_id: str, limit: int, cursor: str | None, t_s: float
    ) -> dict[str, Any]:
        ids = list(reversed(self.agent(agent_id).run_ids))
        page, next_cursor = _page(ids, ids, limit, cursor)
        body: dict[str, Any] = {"items": [self.render_run(self.runs[r], t_s) for r in page]}
        if next_cursor:
            body["nextCursor"] = next_cursor
        return body

    def usage(self, agent_id: str, run_id: str | None, t_s: float) -> dict[str, Any]:
        if not self.scenario.usage_available:
            raise ApiError(403, "feature_unavailable", "Agent usage is in early access.")
        agent = self.agent(agent_id)
        if run_id is not None and run_id not in agent.run_ids:
            raise ApiError(404, "run_not_found", f"Run {run_id} not found on agent {agent_id}.")
        ids = [run_id] if run_id is not None else agent.run_ids
        per_run = {r: _tokens(self.runs[r], t_s) for r in ids}
        total = {k: sum(u[k] for u in per_run.values()) for k in _TOKEN_KEYS}
        runs = [{"id": r, "usage": u} for r, u in per_run.items()]
        return {"totalUsage": total, "runs": runs}


_TOKEN_KEYS = ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens", "totalTokens")


def _tokens(run: Run, t_s: float) -> dict[str, int]:
    """Deterministic token counts that grow with the time the run spent working."""
    ended = run.ended_s(t_s)
    worked_s = max(0.0, (t_s if ended is None else ended) - run.running_s)
    parts = [int(worked_s * 40), int(worked_s * 8), int(worked_s * 20), int(worked_s * 120)]
    return dict(zip(_TOKEN_KEYS, [*parts, sum(parts)], strict=True))


def _page(
    items: list[_Item], keys: list[str], limit: int, cursor: str | None
) -> tuple[list[_Item], str | None]:
    """Newest-first page after the item whose id is `cursor`; the next cursor is the last id."""
    start = 0
    if cursor is not None:
        if cursor not in keys:
            raise validation_error("cursor", "unknown pagination cursor")
        start = keys.index(cursor) + 1
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, (keys[start + limit - 1] if more else None)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return 20
    try:
        value = int(raw)
    except ValueError:
        raise validation_error("limit", "must be an integer between 1 and 100") from None
    if not 1 <= value <= MAX_PAGE:
        raise validation_error("limit", "must be an integer between 1 and 100")
    return value
