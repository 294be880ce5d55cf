"""The fake agent does real git on local repos: what a merge queue sees on the remote."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import (
    CreateAgentRequest,
    CreateRunRequest,
    Prompt,
    RepoConfig,
    Run,
)
from orchestrator.fakecursor.agent_git import git_env, run_git
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.seed_repo import seed_repo
from orchestrator.fakecursor.transport import StreamingASGITransport
from tests.fakecursor.conftest import KEY, loop_fake

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

BASE = "http://fake.cursor.test"
FAST = {"creating_s": 5, "duration_s": 60}  # a run FINISHES 65 s after its launch
TEST_ENV = git_env("Test Merger", "merger@example.com")


def git(cwd: Path, *args: str) -> str:
    return run_git(cwd, *args, env=TEST_ENV).stdout.strip()


def shell(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


class Remote:
    """The seeded bare repo plus a working clone for looking at it as a user would."""

    def __init__(self, tmp_path: Path) -> None:
        self.bare = tmp_path / "project.git"
        self.url = seed_repo(self.bare)
        self.work = tmp_path / "work"
        run_git(tmp_path, "clone", "--quiet", self.url, "work", env=TEST_ENV)

    def fetch(self) -> None:
        git(self.work, "fetch", "--quiet", "--prune", "origin")

    def branches(self) -> set[str]:
        heads = git(self.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return set(heads.splitlines())

    def sha(self, rev: str) -> str:
        return git(self.bare, "rev-parse", f"{rev}^{{commit}}")

    def checkout(self, branch: str) -> Path:
        self.fetch()
        git(self.work, "checkout", "--quiet", "-B", "look", f"origin/{branch}")
        return self.work

    def commit_on_main(self, name: str, text: str) -> str:
        """Someone else moves main on (so startingRef differs from the tip)."""
        git(self.work, "checkout", "--quiet", "-B", "main", "origin/main")
        (self.work / name).write_text(text)
        git(self.work, "add", name)
        git(self.work, "commit", "--quiet", "-m", f"add {name}")
        git(self.work, "push", "--quiet", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")

    def merge_into_main(self, branch: str) -> str:
        """What the merge queue does: merge the agent's branch into main, push main."""
        self.fetch()
        git(self.work, "checkout", "--quiet", "-B", "main", "origin/main")
        git(self.work, "merge", "--quiet", "--no-ff", "-m", f"merge {branch}", f"origin/{branch}")
        git(self.work, "push", "--quiet", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


@pytest.fixture
def workspaces() -> Iterator[list[FakeCursor]]:
    """Fakes made by a test; afterwards each must have removed its workspace on close()."""
    made: list[FakeCursor] = []
    yield made
    for fake in made:
        workspace = fake.git.workspace
        fake.close()
        assert workspace is None or not workspace.exists()


def make_fake(made: list[FakeCursor], fus: dict[str, Any] | None = None) -> FakeCursor:
    scenario = Scenario.model_validate({"defaults": FAST, "fus": fus or {}})
    fake = loop_fake(scenario, api_key=KEY)
    made.append(fake)
    return fake


@asynccontextmanager
async def cursor(fake: FakeCursor) -> AsyncIterator[tuple[CursorClient, httpx.AsyncClient]]:
    async with httpx.AsyncClient(transport=StreamingASGITransport(fake.app), base_url=BASE) as h:
        yield CursorClient(h, base_url=f"{BASE}/v1", api_key=KEY), h


async def launch(client: CursorClient, fu: str, url: str, ref: str | None) -> Run:
    request = CreateAgentRequest(
        prompt=Prompt(text=f"Implement {fu} per its spec."),
        name=f"{fu} implement",
        repos=[RepoConfig(url=url, starting_ref=ref)],
    )
    _, run = await client.create_agent(request)
    return run


async def follow_up(client: CursorClient, run: Run, text: str) -> Run:
    return await client.create_run(run.agent_id, CreateRunRequest(prompt=Prompt(text=text)))


async def finished(client: CursorClient, run: Run) -> Run:
    await anyio.sleep(70)
    seen = await client.get_run(run.agent_id, run.id)
    assert seen.status == "FINISHED"
    return seen


async def report(http: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get("/_fake/git")).json()
    return body


async def test_finished_run_has_pushed_a_branch_cut_from_starting_ref(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    seed = remote.sha("main")
    remote.commit_on_main("later.txt", "main moved on\n")
    fake = make_fake(workspaces)
    async with cursor(fake) as (client, http):
        run = await launch(client, "FU-101", remote.url, seed)
        await anyio.sleep(30)
        running = await client.get_run(run.agent_id, run.id)
        await anyio.sleep(40)
        before = anyio.current_time()
        done = await client.get_run(run.agent_id, run.id)
        assert anyio.current_time() == before  # the git work took no simulated time
        seen = await report(http)
    assert running.status == "RUNNING"
    assert running.git is None
    branch = done.branches[0].branch
    assert branch is not None
    assert branch.startswith("cursor/fu-101-")
    assert done.branches[0].repo_url == remote.url
    assert done.pr_url is None
    assert remote.branches() == {"main", branch}
    assert remote.sha(f"{branch}^") == seed
    assert git(remote.bare, "diff", "--name-only", seed, branch) == "fu/FU-101.md"
    assert git(remote.bare, "log", "-1", "--format=%an <%ae>", branch) == (
        "Fake Agent <agent@fake.cursor>"
    )
    text = git(remote.bare, "show", f"{branch}:fu/FU-101.md")
    assert "FU-101" in text
    assert run.agent_id in text
    assert run.id in text
    [agent] = seen["agents"]
    assert agent["fu"] == "FU-101"
    assert agent["startingRef"] == seed
    assert agent["branch"] == branch
    assert agent["pushedShas"] == [remote.sha(branch)]
    assert agent["runs"][0]["startedFrom"] == seed
    workspace = fake.git.workspace
    assert workspace is not None
    assert list(workspace.iterdir()) == []  # the scratch clone is gone already


@pytest.mark.parametrize("how", ["get_agent", "list_runs", "stream", "follow_up"])
async def test_every_way_of_seeing_finished_pushes_first(
    how: str, remote: Remote, workspaces: list[FakeCursor]
) -> None:
    fake = make_fake(workspaces)
    async with cursor(fake) as (client, _http):
        run = await launch(client, "FU-102", remote.url, "main")
        if how == "stream":
            results = []
            async for event in client.stream_run(run.agent_id, run.id):
                if event.event == "result":  # the remote already has the branch it names
                    results.append((event.data["git"]["branches"][0]["branch"], remote.branches()))
            [(branch, branches)] = results
            assert branches == {"main", branch}
            return
        await anyio.sleep(70)
        assert remote.branches() == {"main"}  # nobody has looked yet: nothing happened
        if how == "get_agent":
            await client.get_agent(run.agent_id)
        elif how == "list_runs":
            listed = await client.list_runs(run.agent_id)
            assert listed.items[0].branches
        else:
            await follow_up(client, run, "Anything else?")
    assert len(remote.branches()) == 2


async def test_none_reports_no_branch_and_pushes_nothing(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    fake = make_fake(workspaces, {"FU-103": {"git_edit": "none"}})
    async with cursor(fake) as (client, http):
        run = await launch(client, "FU-103", remote.url, "main")
        done = await finished(client, run)
        again = await finished(client, await follow_up(client, run, "Push your branch."))
        seen = await report(http)
    assert done.git is None
    assert again.git is None
    assert remote.branches() == {"main"}
    assert [r["outcome"] for r in seen["agents"][0]["runs"]] == ["nothing", "nothing"]
    assert fake.git.workspace is None  # not even a workspace was needed


async def test_first_runs_push_nothing_then_a_retry_pushes_the_first_edit(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    seed = remote.sha("main")
    fake = make_fake(workspaces, {"FU-104": {"push_nothing_first_runs": 1}})
    async with cursor(fake) as (client, _http):
        run = await launch(client, "FU-104", remote.url, seed)
        first = await finished(client, run)
        retry = await finished(client, await follow_up(client, run, "You pushed no branch."))
        first_again = await client.get_run(run.agent_id, run.id)
    assert first.git is None
    assert first_again.git is None  # that run still pushed nothing
    branch = retry.branches[0].branch
    assert branch is not None
    assert remote.sha(f"{branch}^") == seed
    assert git(remote.bare, "diff", "--name-only", seed, branch) == "fu/FU-104.md"


async def conflicting_pair(client: CursorClient, remote: Remote, seed: str) -> tuple[Run, str, str]:
    """FU-1 and FU-2 both rewrite shared/conflict.txt; FU-2's branch is merged into main."""
    one = await launch(client, "FU-1", remote.url, seed)
    two = await launch(client, "FU-2", remote.url, seed)
    one_done = await finished(client, one)
    two_done = await client.get_run(two.agent_id, two.id)
    one_branch, two_branch = one_done.branches[0].branch, two_done.branches[0].branch
    assert one_branch is not None
    assert two_branch is not None
    merged = remote.merge_into_main(two_branch)
    return one, one_branch, merged


async def test_follow_up_merges_a_conflicting_sha_keeping_both_lines(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    seed = remote.sha("main")
    fake = make_fake(
        workspaces, {"FU-1": {"git_edit": "conflict"}, "FU-2": {"git_edit": "conflict"}}
    )
    async with cursor(fake) as (client, http):
        one, branch, main_sha = await conflicting_pair(client, remote, seed)
        old_head = remote.sha(branch)
        text = f"Merge commit {main_sha} into {branch} with `git merge {main_sha}`; resolve."
        again = await finished(client, await follow_up(client, one, text))
        seen = await report(http)
    new_head = remote.sha(branch)
    assert again.branches[0].branch == branch
    assert new_head != old_head
    assert git(remote.bare, "merge-base", "--is-ancestor", old_head, new_head) == ""  # ff
    assert git(remote.bare, "merge-base", "--is-ancestor", main_sha, new_head) == ""
    shared = git(remote.bare, "show", f"{branch}:shared/conflict.txt")
    assert "line 1 as FU-1 wants it" in shared
    assert "line 1 as FU-2 wants it" in shared
    assert "<<<<<<<" not in shared
    assert "=======" not in shared
    assert "line 2: stays as it is" in shared
    agent = next(a for a in seen["agents"] if a["fu"] == "FU-1")
    assert agent["runs"][1]["notes"] == [
        f"{main_sha}: conflicts resolved (union) in shared/conflict.txt"
    ]
    assert agent["mergedShas"] == [main_sha]
    assert agent["pushedShas"] == [old_head, new_head]


async def test_give_up_on_conflict_pushes_nothing_new(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    seed = remote.sha("main")
    fus = {"FU-1": {"git_edit": "conflict", "resolve_conflicts": "give_up"}}
    fake = make_fake(workspaces, {**fus, "FU-2": {"git_edit": "conflict"}})
    async with cursor(fake) as (client, http):
        one, branch, main_sha = await conflicting_pair(client, remote, seed)
        old_head = remote.sha(branch)
        again = await finished(client, await follow_up(client, one, f"git merge {main_sha}"))
        seen = await report(http)
    assert remote.sha(branch) == old_head
    assert again.branches[0].branch == branch  # the branch is still there, unchanged
    runs = next(a for a in seen["agents"] if a["fu"] == "FU-1")["runs"]
    assert runs[1]["outcome"] == "gave_up"
    assert runs[1]["pushedSha"] is None


async def test_break_tests_fails_the_test_script_until_a_follow_up(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    fake = make_fake(workspaces, {"FU-105": {"git_edit": "break_tests"}})
    async with cursor(fake) as (client, http):
        run = await launch(client, "FU-105", remote.url, None)
        done = await finished(client, run)
        branch = done.branches[0].branch
        assert branch is not None
        broken = shell(remote.checkout(branch), "sh", "tests/run.sh")
        broken_head = remote.sha(branch)
        candidate = remote.merge_into_main(branch)
        text = f"The tests failed on candidate {candidate}, which merges your branch: fix it."
        await finished(client, await follow_up(client, run, text))
        seen = await report(http)
    fixed = shell(remote.checkout(branch), "sh", "tests/run.sh")
    fixed_head = remote.sha(branch)
    parents = git(remote.bare, "rev-parse", f"{fixed_head}^@")
    assert parents == broken_head  # one fix commit on top, not a merge of the candidate
    assert seen["agents"][0]["mergedShas"] == []
    assert seen["agents"][0]["runs"][1]["notes"] == ["fixed tests/run.sh"]
    assert broken.returncode != 0
    assert "broken by FU-105" in broken.stderr
    assert fixed.returncode == 0, fixed.stderr
    assert "checked 1 FU file(s)" in fixed.stdout
    assert os.access(remote.work / "tests/run.sh", os.X_OK)


async def test_unknown_starting_ref_pushes_nothing(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    fake = make_fake(workspaces)
    async with cursor(fake) as (client, http):
        done = await finished(client, await launch(client, "FU-106", remote.url, "nope"))
        seen = await report(http)
    assert done.git is None
    assert remote.branches() == {"main"}
    assert "startingRef 'nope' not found" in seen["agents"][0]["runs"][0]["outcome"]


async def test_https_repos_run_no_git(
    monkeypatch: pytest.MonkeyPatch, workspaces: list[FakeCursor]
) -> None:
    def no_git(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("git ran for an https repo")

    monkeypatch.setattr("orchestrator.fakecursor.agent_git.subprocess.run", no_git)
    fake = make_fake(workspaces)
    async with cursor(fake) as (client, http):
        request = CreateAgentRequest(
            prompt=Prompt(text="Implement FU-107."),
            repos=[RepoConfig(url="https://github.com/acme/neotoma", starting_ref="main")],
            auto_create_pr=True,
        )
        _, run = await client.create_agent(request)
        done = await finished(client, run)
        seen = await report(http)
    assert done.branches[0].repo_url == "github.com/acme/neotoma"
    assert done.pr_url is not None
    assert seen == {"workspace": None, "agents": []}
    assert fake.git.workspace is None


async def test_reset_removes_the_workspace(remote: Remote, workspaces: list[FakeCursor]) -> None:
    fake = make_fake(workspaces)
    async with cursor(fake) as (client, _http):
        await finished(client, await launch(client, "FU-108", remote.url, "main"))
        workspace = fake.git.workspace
        assert workspace is not None
        assert workspace.exists()
        fake.reset()
    assert not workspace.exists()


async def test_seed_repo_holds_a_passing_project(tmp_path: Path) -> None:
    url = seed_repo(tmp_path / "seed.git", project="acme")
    run_git(tmp_path, "clone", "--quiet", url, "look", env=TEST_ENV)
    look = tmp_path / "look"
    listed = git(look, "ls-files", "-s").splitlines()
    modes = {line.split("\t")[1]: line.split()[0] for line in listed}
    assert url == (tmp_path / "seed.git").resolve().as_uri()
    assert git(look, "branch", "--show-current") == "main"
    assert modes == {
        "README.md": "100644",
        "shared/conflict.txt": "100644",
        "tests/it.sh": "100755",
        "tests/run.sh": "100755",
    }
    assert "acme" in (look / "README.md").read_text()
    assert "checked 0 FU file(s)" in shell(look, "tests/run.sh").stdout
    (look / "fu").mkdir()
    (look / "fu/FU-9.md").write_text("FU-9 done\n")
    integration = shell(look, "tests/it.sh", "checkout-flow")
    assert integration.returncode == 0
    assert "checked 1 FU file(s)" in integration.stdout
    (look / "fu/FU-9.md").write_text("something else\n")
    assert shell(look, "tests/run.sh").returncode != 0
    with pytest.raises(FileExistsError):
        seed_repo(tmp_path / "seed.git")


async def test_a_run_over_at_once_has_pushed_before_the_create_answers(
    remote: Remote, workspaces: list[FakeCursor]
) -> None:
    fake = make_fake(workspaces, {"FU-101": {"creating_s": 0, "duration_s": 0}})
    async with cursor(fake) as (client, _):
        run = await launch(client, "FU-101", remote.url, remote.sha("main"))
    assert run.status == "FINISHED"
    branch = run.branches[0].branch
    assert branch is not None
    assert branch in remote.branches()
