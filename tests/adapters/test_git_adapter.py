"""The git adapter on real git and temp repos: cache, in-memory merges, CAS refs, push, worktrees.

A bare "origin" with `main` and two feature branches stands in for the user's remote. The host's
git config is swapped for an empty one (and proxies are cleared) so the tests behave the same on
every machine and never leave the loopback interface.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from orchestrator.adapters.git import (
    MIN_GIT,
    GitCache,
    GitError,
    git_version,
    run_git,
)
from orchestrator.adapters.git.cache import ORIGIN_REFSPEC
from orchestrator.adapters.git.runner import redact_url_credentials
from orchestrator.core.trailers import TRAILER_AGENT, TRAILER_FU, merge_message

SHARED = [f"line {n}" for n in range(1, 11)]


def git(cwd: Path, *args: str) -> str:
    """Plain git for building fixtures, as a test author would type it."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def shared_with(**lines: str) -> str:
    """shared.txt with some lines replaced: `shared_with(l1="x")` edits line 1."""
    text = list(SHARED)
    for key, value in lines.items():
        text[int(key[1:]) - 1] = value
    return "\n".join(text) + "\n"


@dataclass
class Origin:
    bare: Path
    work: Path
    main: str
    feat_a: str
    feat_b: str

    @property
    def url(self) -> str:
        return str(self.bare)

    def branch(self, name: str, files: dict[str, str], base: str | None = "main") -> str:
        """Commit `files` on `name` (reset to `base`; None: the unborn first branch), push it."""
        if base is not None:
            git(self.work, "checkout", "-q", "-B", name, base)
        for rel, content in files.items():
            target = self.work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", f"work on {name}")
        git(self.work, "push", "-q", "--force", "origin", f"{name}:{name}")
        return git(self.work, "rev-parse", "HEAD")

    def sha(self, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "rev-parse", "--verify", "--quiet", branch],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None


def make_origin(root: Path) -> Origin:
    """origin.git: `main` (README, shared.txt), `feat-a` (edits line 1, adds a.txt) and
    `feat-b` (edits line 10, adds b.txt): the two features merge cleanly."""
    bare = root / "origin.git"
    work = root / "work"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    git(root, "init", "-q", "-b", "main", str(work))
    git(work, "remote", "add", "origin", str(bare))
    origin = Origin(bare, work, "", "", "")
    origin.main = origin.branch(
        "main", {"README.md": "hello\n", "shared.txt": shared_with()}, base=None
    )
    origin.feat_a = origin.branch("feat-a", {"shared.txt": shared_with(l1="A"), "a.txt": "a\n"})
    origin.feat_b = origin.branch("feat-b", {"shared.txt": shared_with(l10="B"), "b.txt": "b\n"})
    return origin


@pytest.fixture(autouse=True)
def _hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return make_origin(tmp_path)


@pytest_asyncio.fixture
async def cache(origin: Origin, tmp_path: Path) -> GitCache:
    repo = GitCache(origin.url, tmp_path / "state" / "cache.git", timeout_s=30)
    await repo.ensure()
    return repo


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers: a hung remote."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def in_cache(cache: GitCache, *args: str) -> str:
    return git(cache.path, "--git-dir", str(cache.path), *args)


# --- the cache -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ensure_makes_a_bare_cache_once_that_knows_the_remote_branches(
    origin: Origin, tmp_path: Path
) -> None:
    cache = GitCache(origin.url, tmp_path / "state" / "cache.git")
    await cache.ensure()
    refs_before = in_cache(cache, "for-each-ref", "--format=%(refname) %(objectname)")
    await cache.ensure()

    assert in_cache(cache, "rev-parse", "--is-bare-repository") == "true"
    assert in_cache(cache, "config", "--get-all", "remote.origin.fetch") == ORIGIN_REFSPEC
    assert in_cache(cache, "for-each-ref", "--format=%(refname) %(objectname)") == refs_before
    assert await cache.remote_sha("main") == origin.main
    assert await cache.remote_sha("feat-a") == origin.feat_a
    assert await cache.remote_sha("no-such-branch") is None
    # Only origin's view exists: no stale local `main` that could be mistaken for it.
    assert in_cache(cache, "for-each-ref", "refs/heads/") == ""
    assert await cache.resolve("main") is None
    assert await cache.resolve("origin/main") == origin.main
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["cache.git"]


@pytest.mark.asyncio
async def test_fetch_sees_new_commits_and_forgets_deleted_branches(
    origin: Origin, cache: GitCache
) -> None:
    new_main = origin.branch("main", {"c.txt": "c\n"})
    git(origin.work, "push", "-q", "origin", ":feat-b")
    assert await cache.remote_sha("main") == origin.main  # as of the last fetch

    await cache.fetch()

    assert await cache.remote_sha("main") == new_main
    assert await cache.remote_sha("feat-b") is None


@pytest.mark.asyncio
async def test_ensure_repoints_an_existing_cache_at_a_moved_remote(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    moved = tmp_path / "moved.git"
    git(tmp_path, "clone", "-q", "--bare", origin.url, str(moved))
    git(tmp_path, "--git-dir", str(moved), "branch", "-D", "feat-a")

    await GitCache(f"file://{moved}", cache.path).ensure()

    assert in_cache(cache, "config", "remote.origin.url") == f"file://{moved}"
    assert await cache.remote_sha("feat-a") is None
    assert await cache.remote_sha("feat-b") == origin.feat_b


@pytest.mark.asyncio
async def test_a_failed_clone_leaves_nothing_that_looks_like_a_cache(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cache = GitCache(str(tmp_path / "missing.git"), state / "cache.git")

    with pytest.raises(GitError, match=r"^git clone failed \(exit 128\): .*does not exist"):
        await cache.ensure()

    assert list(state.iterdir()) == []


@pytest.mark.asyncio
async def test_ensure_refuses_to_adopt_a_directory_that_is_not_a_bare_repo(
    origin: Origin, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine\n")

    with pytest.raises(GitError, match="not a bare git repository"):
        await GitCache(origin.url, taken).ensure()

    assert (taken / "notes.txt").read_text() == "mine\n"


# --- merging ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_clean_merges_land_as_two_parent_commits_whose_trailers_read_back(
    origin: Origin, cache: GitCache
) -> None:
    body = "Agent summary.\nNote: prose that looks like a trailer.\n\nMore prose."
    tip = origin.main
    for fu, feature in (("FU-1", origin.feat_a), ("FU-2", origin.feat_b)):
        check = await cache.merge_check(tip, feature)
        assert check.clean
        assert check.conflicts == ()
        assert check.tree is not None
        message = merge_message(f"Merge {fu}", body, {TRAILER_FU: fu, TRAILER_AGENT: "bc-9"})
        tip = await cache.commit_merge(check.tree, tip, feature, message)

    log = await cache.first_parent_log(tip, stop=origin.main)

    assert [c.trailers for c in log] == [
        {TRAILER_FU: "FU-2", TRAILER_AGENT: "bc-9"},
        {TRAILER_FU: "FU-1", TRAILER_AGENT: "bc-9"},
    ]
    assert log[0].parents == (log[1].sha, origin.feat_b)
    assert log[1].parents == (origin.main, origin.feat_a)
    assert log[0].subject == "Merge FU-2"
    assert {"a.txt", "b.txt", "shared.txt", "README.md"} <= set(await cache.files_at(tip))
    assert in_cache(cache, "show", f"{tip}:shared.txt") == shared_with(l1="A", l10="B").strip()
    full = await cache.first_parent_log(tip, stop=None)
    assert [c.sha for c in full[2:]] == [origin.main]
    assert full[-1].parents == ()
    assert full[-1].trailers == {}


@pytest.mark.asyncio
async def test_two_branches_editing_the_same_line_conflict_naming_the_files(
    origin: Origin, cache: GitCache
) -> None:
    odd_name = "docs/naïve notes.txt"  # git would C-quote this without -z
    left = origin.branch("left", {"shared.txt": shared_with(l5="left"), odd_name: "L\n"})
    right = origin.branch("right", {"shared.txt": shared_with(l5="right"), odd_name: "R\n"})
    await cache.fetch()

    check = await cache.merge_check(left, right)

    assert not check.clean
    assert check.tree is None
    assert check.conflicts == (odd_name, "shared.txt")


@pytest.mark.asyncio
async def test_merging_an_unknown_commit_is_an_error_not_a_conflict(
    origin: Origin, cache: GitCache
) -> None:
    # git 2.39 exits 1 here too, exactly as for a conflict.
    with pytest.raises(
        GitError, match=r"^git merge-tree failed \(exit 1\): .* not something we can merge$"
    ):
        await cache.merge_check(origin.main, "0" * 40)


@pytest.mark.asyncio
async def test_is_ancestor_follows_history(origin: Origin, cache: GitCache) -> None:
    assert await cache.is_ancestor(origin.main, origin.feat_a)
    assert not await cache.is_ancestor(origin.feat_a, origin.main)
    assert not await cache.is_ancestor(origin.feat_a, origin.feat_b)
    with pytest.raises(GitError, match="merge-base failed"):
        await cache.is_ancestor("f" * 40, origin.main)


# --- moving refs -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_update_ref_moves_a_ref_only_from_the_expected_value(
    origin: Origin, cache: GitCache
) -> None:
    ref = "refs/orchd/staging"
    assert await cache.update_ref(ref, origin.main, None)
    assert not await cache.update_ref(ref, origin.feat_a, None)  # already exists
    assert not await cache.update_ref(ref, origin.feat_a, origin.feat_b)  # wrong old
    assert await cache.resolve(ref) == origin.main
    assert await cache.update_ref(ref, origin.feat_a, origin.main)
    assert await cache.resolve(ref) == origin.feat_a
    assert not await cache.update_ref("refs/orchd/never", origin.main, origin.main)
    with pytest.raises(GitError, match="update-ref failed"):
        await cache.update_ref(ref, "not-a-sha", origin.feat_a)
    with pytest.raises(ValueError, match="full ref name"):
        await cache.update_ref("staging", origin.main, None)


@pytest.mark.asyncio
async def test_push_lands_only_while_the_remote_is_where_we_expect(
    origin: Origin, cache: GitCache
) -> None:
    assert await cache.push(origin.feat_a, "release", expected_old=None)
    assert origin.sha("release") == origin.feat_a
    assert await cache.remote_sha("release") == origin.feat_a  # no fetch needed

    assert not await cache.push(origin.feat_b, "release", expected_old=None)  # exists now
    assert not await cache.push(origin.feat_b, "release", expected_old=origin.main)  # stale
    assert origin.sha("release") == origin.feat_a

    assert await cache.push(origin.feat_b, "release", expected_old=origin.feat_a)
    assert origin.sha("release") == origin.feat_b


@pytest.mark.asyncio
async def test_forced_push_overwrites_a_scratch_branch(origin: Origin, cache: GitCache) -> None:
    assert await cache.push(origin.feat_a, "orchd/scratch", expected_old=None, force=True)
    assert await cache.push(origin.feat_b, "orchd/scratch", expected_old=None, force=True)
    assert origin.sha("orchd/scratch") == origin.feat_b


@pytest.mark.asyncio
async def test_a_push_the_remote_itself_declines_is_an_error_not_a_retry(
    origin: Origin, cache: GitCache
) -> None:
    hook = origin.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho protected branch >&2\nexit 1\n")
    hook.chmod(0o755)

    with pytest.raises(GitError, match=r"git push to main refused: \[remote rejected\]"):
        await cache.push(origin.feat_a, "main", expected_old=origin.main)

    assert origin.sha("main") == origin.main
    assert await cache.remote_sha("main") == origin.main


# --- worktrees -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_worktree_holds_the_commits_files_and_is_gone_after_removal(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    tree = tmp_path / "gate" / "wt"

    await cache.add_worktree(tree, origin.feat_a)

    on_disk = sorted(
        str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file() and p.name != ".git"
    )
    assert on_disk == sorted(await cache.files_at(origin.feat_a))
    assert (tree / "a.txt").read_text() == "a\n"
    (tree / "build-output.log").write_text("dirty\n")  # a gate run leaves files behind

    await cache.remove_worktree(tree)
    await cache.remove_worktree(tree)  # already gone: fine

    assert not tree.exists()
    assert str(tree) not in in_cache(cache, "worktree", "list", "--porcelain")
    await cache.add_worktree(tree, origin.feat_b)  # the path is reusable
    assert (tree / "b.txt").exists()


# --- the runner: errors, secrets, environment -------------------------------------------------


@pytest.mark.asyncio
async def test_an_unreachable_remote_fails_fast_without_leaking_the_token(tmp_path: Path) -> None:
    url = "https://orchd-bot:s3cr3tT0ken@127.0.0.1:1/x.git"
    cache = GitCache(url, tmp_path / "cache.git", timeout_s=10)
    started = time.monotonic()

    with pytest.raises(GitError, match=r"^git ls-remote failed \(exit 128\): ") as caught:
        await cache.ls_remote_ok()

    error = caught.value
    assert time.monotonic() - started < 5
    assert "\n" not in str(error)
    assert "https://***@127.0.0.1:1/x.git" in error.args
    for text in (str(error), repr(error), error.stderr, *error.args):
        assert "s3cr3tT0ken" not in text
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


@pytest.mark.asyncio
async def test_a_live_remote_passes_the_doctor_check(origin: Origin, tmp_path: Path) -> None:
    await GitCache(origin.url, tmp_path / "unused.git").ls_remote_ok()


@pytest.mark.asyncio
async def test_a_hung_remote_times_out(tmp_path: Path, silent_server: int) -> None:
    cache = GitCache(f"http://127.0.0.1:{silent_server}/x.git", tmp_path / "c", timeout_s=0.5)

    with pytest.raises(GitError, match=r"^git ls-remote timed out after 0.5s$") as caught:
        await cache.ls_remote_ok()

    assert caught.value.code is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:tok@host/x.git", "https://***@host/x.git"),
        ("fatal: 'https://tok@github.com/o/r' nope", "fatal: 'https://***@github.com/o/r' nope"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/repos/x.git", "/srv/repos/x.git"),
    ],
)
def test_url_credentials_are_redacted(text: str, expected: str) -> None:
    assert redact_url_credentials(text) == expected


@pytest.mark.asyncio
async def test_git_runs_without_orchd_secrets_never_prompts_and_commits_as_orchd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURSOR_CLOUD_API_KEY", "key_abc")
    monkeypatch.setenv("ORCHD_NOTIFY_URL", "https://hooks.example/secret")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "someone-elses-repo"))
    dump = ["-c", "alias.envdump=!env", "envdump"]

    env = (await run_git(dump, cwd=tmp_path, timeout_s=10)).stdout.splitlines()
    agent = await run_git(
        dump, cwd=tmp_path, timeout_s=10, env_extra={"GIT_AUTHOR_NAME": "agent-7"}
    )

    assert not [line for line in env if "key_abc" in line or "hooks.example" in line]
    assert not [line for line in env if line.startswith("GIT_DIR=")]
    assert {"GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_AUTHOR_NAME=orchd"} <= set(env)
    assert {"GIT_COMMITTER_EMAIL=orchd@localhost", "GIT_AUTHOR_EMAIL=orchd@localhost"} <= set(env)
    assert "GIT_AUTHOR_NAME=agent-7" in agent.stdout.splitlines()


@pytest.mark.asyncio
async def test_failures_are_one_line_naming_the_subcommand_unless_the_code_is_expected(
    tmp_path: Path,
) -> None:
    args = ["rev-parse", "--verify", "HEAD"]
    with pytest.raises(GitError) as caught:
        await run_git(args, cwd=tmp_path, timeout_s=10)
    assert str(caught.value) == "git rev-parse failed (exit 128): " + caught.value.stderr.strip()
    assert caught.value.code == 128
    assert caught.value.args == tuple(args)

    allowed = await run_git(args, cwd=tmp_path, timeout_s=10, ok_codes=(0, 128))
    assert allowed.code == 128


@pytest.mark.asyncio
async def test_a_missing_git_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitError, match=r"^git is not installed$"):
        await run_git(["status"], cwd=None, timeout_s=10)


@pytest.mark.asyncio
async def test_installed_git_is_new_enough() -> None:
    assert await git_version() >= MIN_GIT


@pytest.mark.asyncio
async def test_fetch_branch_brings_one_branch_and_forgets_a_deleted_one(
    origin: Origin, cache: GitCache
) -> None:
    new_main = origin.branch("main", {"c.txt": "c\n"})
    new_a = origin.branch("feat-a", {"a2.txt": "a2\n"})
    git(origin.work, "push", "-q", "origin", ":feat-b")

    assert await cache.fetch_branch("main") == new_main
    assert await cache.remote_sha("feat-a") == origin.feat_a  # only what was asked for
    assert await cache.fetch_branch("feat-b") is None
    assert await cache.remote_sha("feat-b") is None
    assert new_a != origin.feat_a


def test_a_ctrl_c_at_orchds_terminal_does_not_reach_a_running_git(tmp_path: Path) -> None:
    """Ctrl-C signals the terminal's whole foreground process group. orchd handles it (abort);
    a git it runs must not die half-way through a fetch or a ref update (seen: `git fetch
    failed (exit -2)` and a traceback instead of a clean abort)."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    script = textwrap.dedent(
        """
        import signal, sys, anyio
        from orchestrator.adapters.git.runner import run_git
        signal.signal(signal.SIGINT, lambda *_: print("orchd got SIGINT", flush=True))
        async def main():
            print("started", flush=True)
            result = await run_git(["-c", "alias.slow=!sleep 2", "slow"], cwd=None, timeout_s=30)
            print("git exit", result.code, flush=True)
        anyio.run(main)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the child and whatever it starts, as a terminal's group
        cwd=tmp_path,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.5)  # git is sleeping now
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C does
    out, _ = child.communicate(timeout=30)
    assert "orchd got SIGINT" in out
    assert "git exit 0" in out
