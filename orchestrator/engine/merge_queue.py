"""The merge queue: the one owner of the release branch.

Per batch it builds a candidate on the release branch head: every delivered FU merged `--no-ff`
in delivery order, each merge carrying `Orchd-*` trailers. A batch lands when its gate passes
on the candidate (in a detached worktree, one gate at a time per release): the release branch
is fast-forwarded to exactly that commit with a lease on its old value, so it only ever points
at gated commits. If the branch moved since the candidate was built, the candidate is rebuilt
on the new head and gated again. Landed FUs are read back from the trailers on the branch's
first-parent line, so a restart after kill -9 never merges an FU twice.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import anyio
import structlog

from orchestrator.adapters.git import GitCache, GitError
from orchestrator.core.trailers import (
    TRAILER_AGENT,
    TRAILER_BATCH,
    TRAILER_FU,
    TRAILER_RELEASE,
    merge_message,
)
from orchestrator.errors import InputError

log = structlog.get_logger("orchd.merge")

_LANDING_TRIES = 5  # gates of one batch before a branch that keeps moving is a human's problem


@dataclass
class _Merge:
    fu_id: str
    agent_id: str | None
    branch: str
    fu_sha: str
    merge_sha: str


@dataclass
class Candidate:
    """One build of a batch's candidate: the release head it starts from, and its merges."""

    batch_id: Decimal
    attempt: int
    base: str
    ref: str
    merges: list[_Merge] = field(default_factory=list)
    stale: bool = False  # rebuild before the next gate (a retry picks up new branch heads)

    @property
    def sha(self) -> str:
        return self.merges[-1].merge_sha if self.merges else self.base

    def has(self, fu_id: str) -> bool:
        return any(m.fu_id == fu_id for m in self.merges)


@dataclass(frozen=True)
class Merged:
    merge_sha: str
    candidate: str
    candidate_sha: str


@dataclass(frozen=True)
class Conflict:
    """The FU's branch conflicts with the candidate at `onto` (a pushed, fetchable commit)."""

    files: tuple[str, ...]
    onto: str
    onto_ref: str


@dataclass(frozen=True)
class NotDelivered:
    reason: str


MergeResult = Merged | Conflict | NotDelivered


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    summary: str = ""


GateFn = Callable[[str, str, Path], Awaitable[GateVerdict]]
"""`gate(candidate_sha, base_sha, worktree)`: run the batch's tests in the worktree."""


@dataclass(frozen=True)
class Landed:
    sha: str
    merges: tuple[tuple[str, str], ...]  # (fu_id, merge commit)


@dataclass(frozen=True)
class GateFailed:
    summary: str
    candidate_sha: str


@dataclass(frozen=True)
class NeedsResolution:
    """Rebuilding on a moved release branch hit conflicts: these FUs go back to their agents."""

    conflicts: dict[str, Conflict]


LandResult = Landed | GateFailed | NeedsResolution


@dataclass(frozen=True)
class Delivery:
    fu_id: str
    agent_id: str | None
    branch: str


class MergeQueue:
    """Candidates, landing and the release branch of one release."""

    def __init__(
        self,
        git: GitCache,
        *,
        release_id: str,
        branch: str,
        base_branch: str,
        worktrees: Path,
    ) -> None:
        self.git = git
        self.release_id = release_id
        self.branch = branch
        self.base_branch = base_branch
        self.worktrees = worktrees
        self.head = ""
        self.landed: dict[str, str] = {}  # fu_id → merge commit on the release branch
        self._cands: dict[Decimal, Candidate] = {}
        self._attempts: dict[Decimal, int] = {}
        self._lock = anyio.Lock()  # candidates and the branch change one at a time
        self._landing = anyio.Lock()  # one gate at a time per release
        self.log = log.bind(release_id=release_id, branch=branch)

    # --- start --------------------------------------------------------------------------------

    async def open(self, attempts: dict[Decimal, int] | None = None) -> str:
        """Clone or refresh the cache, create the release branch from the base at first start,
        and read which FUs already landed (a restart). Returns the release branch head."""
        await self.git.ensure()
        head = await self.git.remote_sha(self.branch)
        if head is None:
            base = await self.git.remote_sha(self.base_branch)
            if base is None:
                raise InputError(
                    f"RELEASE_BRANCH {self.base_branch!r} is not a branch of the remote "
                    "(set RELEASE_BRANCH to the branch the release starts from)"
                )
            if await self.git.push(base, self.branch, expected_old=None):
                self.log.info("release_branch.created", base=self.base_branch, sha=base)
                head = base
            else:  # created meanwhile: take what is there
                await self.git.fetch()
                head = await self.git.remote_sha(self.branch) or base
        self.head = head
        self.landed = await self._landed_on(head)
        self._attempts = dict(attempts or {})
        # candidates an earlier (killed) run pushed: this run rebuilds its own
        for ref in await self.git.remote_branches(f"orchd/{self.release_id}/cand"):
            try:
                await self.git.delete_branch(ref)
            except GitError as exc:
                self.log.info("candidate.delete_failed", candidate=ref, error=str(exc))
        if self.worktrees.exists():
            shutil.rmtree(self.worktrees, ignore_errors=True)  # left by a crash mid-gate
        self.worktrees.mkdir(parents=True, exist_ok=True)
        return head

    async def _landed_on(self, tip: str) -> dict[str, str]:
        """FU → merge commit, from this release's trailers on the first-parent line."""
        found: dict[str, str] = {}
        for commit in await self.git.first_parent_log(tip, None):
            trailers = commit.trailers
            if trailers.get(TRAILER_RELEASE) != self.release_id:
                continue
            fu_id = trailers.get(TRAILER_FU)
            if fu_id and fu_id not in found:
                found[fu_id] = commit.sha
        return found

    # --- delivery -----------------------------------------------------------------------------

    async def branch_sha(self, branch: str) -> str | None:
        """The pushed head of an agent's branch, fresh from the remote."""
        async with self._lock:
            return await self.git.fetch_branch(branch)

    def candidate_sha(self, batch_id: Decimal) -> str | None:
        cand = self._cands.get(batch_id)
        return cand.sha if cand is not None else None

    def candidate_ref(self, batch_id: Decimal) -> str | None:
        cand = self._cands.get(batch_id)
        return self._ref_of(cand) if cand is not None else None

    async def merge(self, batch_id: Decimal, delivery: Delivery) -> MergeResult:
        """Merge the FU's pushed branch into its batch's candidate (building one if needed)."""
        async with self._lock:
            fu_sha = await self.git.fetch_branch(delivery.branch)
            if fu_sha is None:
                return NotDelivered(f"branch {delivery.branch} is not on the remote")
            cand = self._cands.get(batch_id)
            if cand is None:
                cand = self._new_candidate(batch_id)
            elif cand.has(delivery.fu_id):
                # merged already (one merge per FU): if its branch moved since, the landing
                # rebuilds the candidate from the new head
                old = next(m for m in cand.merges if m.fu_id == delivery.fu_id)
                if old.fu_sha != fu_sha:
                    cand.stale = True
                return Merged(old.merge_sha, cand.ref, cand.sha)
            return await self._merge_one(cand, delivery, fu_sha)

    async def _merge_one(self, cand: Candidate, delivery: Delivery, fu_sha: str) -> MergeResult:
        if await self.git.is_ancestor(fu_sha, cand.sha):
            return NotDelivered(
                f"branch {delivery.branch} has nothing new (its head {fu_sha[:12]} is already "
                "in the release branch)"
            )
        check = await self.git.merge_check(cand.sha, fu_sha)
        if not check.clean or check.tree is None:
            await self._publish(cand)  # the agent must be able to fetch what it merges
            return Conflict(check.conflicts, cand.sha, self._ref_of(cand))
        message = merge_message(
            f"Merge {delivery.fu_id} ({delivery.branch}) into {self.branch}",
            f"Batch {format(cand.batch_id, 'f')} candidate {cand.attempt} of release "
            f"{self.release_id}.",
            {
                TRAILER_RELEASE: self.release_id,
                TRAILER_FU: delivery.fu_id,
                TRAILER_AGENT: delivery.agent_id or "unknown",
                TRAILER_BATCH: format(cand.batch_id, "f"),
            },
        )
        merge_sha = await self.git.commit_merge(check.tree, cand.sha, fu_sha, message)
        cand.merges.append(
            _Merge(delivery.fu_id, delivery.agent_id, delivery.branch, fu_sha, merge_sha)
        )
        await self._publish(cand)
        self.log.info(
            "fu.merged",
            fu_id=delivery.fu_id,
            batch_id=format(cand.batch_id, "f"),
            merge=merge_sha,
            candidate=cand.ref,
        )
        return Merged(merge_sha, cand.ref, merge_sha)

    def _ref_of(self, cand: Candidate) -> str:
        """Where the remote has the candidate: its own ref, or the release branch itself while
        nothing is merged into it yet."""
        return cand.ref if cand.merges else self.branch

    async def _publish(self, cand: Candidate) -> None:
        """Push the candidate to its scratch ref: agents start from it or merge it."""
        if cand.merges:
            await self.git.push(cand.sha, cand.ref, expected_old=None, force=True)

    async def _retire(self, cand: Candidate) -> None:
        """Delete a candidate's scratch ref once it landed or was replaced (best effort: the
        commits stay reachable from the release branch or the FUs' branches)."""
        if not cand.merges:
            return
        try:
            await self.git.delete_branch(cand.ref)
        except GitError as exc:
            self.log.info("candidate.delete_failed", candidate=cand.ref, error=str(exc))

    def _new_candidate(self, batch_id: Decimal) -> Candidate:
        attempt = self._attempts.get(batch_id, 0) + 1
        self._attempts[batch_id] = attempt
        label = format(batch_id, "f")
        ref = f"orchd/{self.release_id}/cand/b{label}.{attempt}"
        cand = Candidate(batch_id, attempt, self.head, ref)
        self._cands[batch_id] = cand
        return cand

    async def _rebuild_locked(self, old: Candidate) -> tuple[Candidate, dict[str, Conflict]]:
        """A new candidate on today's head with the same FUs, from their current branch heads."""
        await self._retire(old)
        cand = self._new_candidate(old.batch_id)
        conflicts: dict[str, Conflict] = {}
        deliveries = [Delivery(m.fu_id, m.agent_id, m.branch) for m in old.merges]
        for delivery in deliveries:
            fu_sha = await self.git.fetch_branch(delivery.branch)
            if fu_sha is None:
                conflicts[delivery.fu_id] = Conflict((), cand.sha, self._ref_of(cand))
                continue
            result = await self._merge_one(cand, delivery, fu_sha)
            if isinstance(result, Conflict):
                conflicts[delivery.fu_id] = result
        for fu_id, conflict in list(conflicts.items()):  # all against the final candidate
            conflicts[fu_id] = Conflict(conflict.files, cand.sha, self._ref_of(cand))
        if conflicts:
            await self._publish(cand)
            self.log.info(
                "candidate.rebuilt_with_conflicts",
                batch_id=format(cand.batch_id, "f"),
                conflicts=sorted(conflicts),
            )
        return cand, conflicts

    # --- landing ------------------------------------------------------------------------------

    def invalidate(self, batch_id: Decimal) -> None:
        """A retry: the next landing rebuilds the candidate from the FUs' current branches."""
        cand = self._cands.get(batch_id)
        if cand is not None:
            cand.stale = True

    async def drop(self, batch_id: Decimal) -> list[str]:
        """A skip: the candidate is thrown away (the release branch never held it)."""
        cand = self._cands.pop(batch_id, None)
        if cand is None:
            return []
        async with self._lock:
            await self._retire(cand)
        return [m.branch for m in cand.merges]

    async def land(self, batch_id: Decimal, gate: GateFn) -> LandResult:
        """Gate the batch's candidate and fast-forward the release branch to it."""
        async with self._landing:
            for _ in range(_LANDING_TRIES):
                async with self._lock:
                    remote = await self.git.fetch_branch(self.branch)
                    if remote is None:  # deleted behind orchd's back: put back what it knows
                        self.log.warning("release_branch.recreated", sha=self.head)
                        await self.git.push(self.head, self.branch, expected_old=None)
                    elif remote != self.head:
                        self.log.warning("release_branch.moved", expected=self.head, found=remote)
                        self.head = remote
                        self.landed = await self._landed_on(remote)
                    cand = self._cands.get(batch_id)
                    if cand is None:
                        cand = self._new_candidate(batch_id)
                    if cand.stale or cand.base != self.head:
                        cand, conflicts = await self._rebuild_locked(cand)
                        if conflicts:
                            return NeedsResolution(conflicts)
                    sha, base = cand.sha, cand.base
                verdict = await self._gate_at(sha, base, gate, f"b{format(batch_id, 'f')}")
                if not verdict.passed:
                    return GateFailed(verdict.summary, sha)
                async with self._lock:
                    if await self.git.push(sha, self.branch, expected_old=base):
                        self.head = sha
                        merges = tuple((m.fu_id, m.merge_sha) for m in cand.merges)
                        self.landed.update(dict(merges))
                        self._cands.pop(batch_id, None)
                        await self._retire(cand)
                        self.log.info(
                            "batch.landed",
                            batch_id=format(batch_id, "f"),
                            sha=sha,
                            fus=[m for m, _ in merges],
                        )
                        return Landed(sha, merges)
                    self.log.warning("release_branch.push_refused", batch_id=str(batch_id))
                    cand.stale = True  # moved under us: rebuild on the new head and re-gate
            return GateFailed(
                f"the release branch {self.branch} moved {_LANDING_TRIES} times while batch "
                f"{format(batch_id, 'f')} was gated (is something else pushing to it?)",
                self.candidate_sha(batch_id) or self.head,
            )

    async def gate_head(self, gate: GateFn) -> GateVerdict:
        """The full suite on the release branch head (after the last batch)."""
        async with self._landing:
            return await self._gate_at(self.head, self.head, gate, "full")

    async def _gate_at(self, sha: str, base: str, gate: GateFn, label: str) -> GateVerdict:
        path = self.worktrees / f"{label}-{sha[:12]}"
        async with self._lock:
            await self.git.add_worktree(path, sha)
        try:
            return await gate(sha, base, path)
        finally:
            with anyio.CancelScope(shield=True):
                async with self._lock:
                    await self.git.remove_worktree(path)
