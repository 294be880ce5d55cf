"""orchd's own bare clone of the remote ("cache"): fetch, merge without a worktree, CAS refs, push.

The user's checkout is never touched. Remote branches live only under `refs/remotes/origin/*`
(the clone's copies of `refs/heads/*` are deleted, so a stale local `main` can never be
mistaken for the remote's). Every command on one repository holds one lock, so a fetch never
interleaves with a ref update.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from weakref import WeakValueDictionary

import anyio

from orchestrator.adapters.git.runner import GitError, GitResult, run_git
from orchestrator.adapters.threads import in_thread
from orchestrator.core.trailers import parse_trailers

ORIGIN_REFSPEC = "+refs/heads/*:refs/remotes/origin/*"

# One lock per repository path, shared by every GitCache on it in this process.
_LOCKS: WeakValueDictionary[Path, anyio.Lock] = WeakValueDictionary()

# `update-ref REF NEW OLD` says one of these when the compare-and-swap itself failed.
_CAS_REFUSED = (
    "but expected",
    "reference already exists",
    "unable to resolve reference",
    "reference is missing",
)
# Client-side push refusals: the remote moved (lease or fast-forward); fetch and decide again.
_PUSH_REFUSED = ("stale info", "non-fast-forward", "fetch first", "already exists")


@dataclass(frozen=True)
class MergeCheck:
    """Outcome of merging two commits in memory. `tree` is set only when the merge is clean
    (git also writes a tree with conflict markers; orchd must never commit that one)."""

    clean: bool
    tree: str | None
    conflicts: tuple[str, ...]


@dataclass(frozen=True)
class LoggedCommit:
    """One commit of a first-parent history, with the trailers of its message."""

    sha: str
    parents: tuple[str, ...]
    subject: str
    trailers: dict[str, str]


def _plain(value: str, what: str) -> str:
    """Refuse values git would read as options (`--upload-pack=...`): they come from agents."""
    if not value or value.startswith("-"):
        raise ValueError(f"{what} {value!r} is empty or starts with '-'")
    return value


def _absolute(path: Path) -> str:
    """Worktree paths are handed to git absolute: its cwd is not ours to rely on."""
    return str(path.absolute())


def _is_oid(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _chunks(fields: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(fields) - size + 1, size):
        yield fields[start : start + size]


def _push_summary(porcelain: str, dst: str) -> str | None:
    """The `[rejected] (stale info)` part of `push --porcelain`'s line for `dst`, if any."""
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith(f":{dst}"):
            return parts[2].strip()
    return None


class GitCache:
    """The bare cache of `remote_url` at `path`; every git call on it goes through here."""

    def __init__(self, remote_url: str, path: Path, *, timeout_s: float = 300.0) -> None:
        self.remote_url = _plain(remote_url, "remote URL")
        self.path = path.absolute()
        self.timeout_s = timeout_s
        self._lock = _LOCKS.setdefault(self.path, anyio.Lock())

    async def _git(
        self,
        *args: str,
        ok_codes: Collection[int] = (0,),
        input_text: str | None = None,
        git_dir: Path | None = None,
    ) -> GitResult:
        """A command on the cache, named explicitly: no discovery can reach another repo."""
        return await run_git(
            [f"--git-dir={git_dir or self.path}", *args],
            cwd=None,
            timeout_s=self.timeout_s,
            input_text=input_text,
            ok_codes=ok_codes,
        )

    # --- setup -------------------------------------------------------------------------------

    async def ensure(self) -> None:
        """Clone if missing (atomically), else re-point origin and prune dead worktrees; fetch."""
        async with self._lock:
            if await self._is_bare_repo():
                await self._git("config", "remote.origin.url", self.remote_url)
                await self._git("config", "--replace-all", "remote.origin.fetch", ORIGIN_REFSPEC)
                await self._git("worktree", "prune")
            else:
                await self._clone()
            await self._fetch()

    async def _is_bare_repo(self) -> bool:
        path = anyio.Path(self.path)
        if not await path.exists():
            return False
        if await path.is_dir() and not [entry async for entry in path.iterdir()]:
            return False  # an empty directory: clone over it
        result = await self._git("rev-parse", "--is-bare-repository", ok_codes=(0, 128))
        if result.code == 0 and result.stdout.strip() == "true":
            return True
        raise GitError(
            ["rev-parse", "--is-bare-repository"],
            result.code,
            result.stderr,
            f"{self.path} exists but is not a bare git repository; move it away or delete it",
        )

    async def _clone(self) -> None:
        """Clone into a temp sibling and rename: a crash never leaves a valid-looking half clone."""
        parent = anyio.Path(self.path.parent)
        await parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.path.name}.clone-"
        # Leftovers of a crashed clone (orchd holds the release lock, so none is in progress).
        async for entry in parent.iterdir():
            if entry.name.startswith(prefix):
                await anyio.to_thread.run_sync(shutil.rmtree, Path(entry), True)
        tmp = self.path.parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            await run_git(
                ["clone", "--bare", "--quiet", "--", self.remote_url, str(tmp)],
                cwd=None,
                timeout_s=self.timeout_s,
            )
            await self._git(
                "config", "--replace-all", "remote.origin.fetch", ORIGIN_REFSPEC, git_dir=tmp
            )
            heads = await self._git(
                "for-each-ref", "--format=delete %(refname)", "refs/heads/", git_dir=tmp
            )
            if heads.stdout.strip():
                await self._git("update-ref", "--stdin", input_text=heads.stdout, git_dir=tmp)
            await anyio.Path(tmp).rename(self.path)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, tmp, True)
            raise

    async def fetch(self) -> None:
        """Bring `refs/remotes/origin/*` up to date, dropping branches deleted on the remote."""
        async with self._lock:
            await self._fetch()

    async def _fetch(self) -> None:
        await self._git("fetch", "--prune", "--quiet", "origin")

    async def fetch_branch(self, branch: str) -> str | None:
        """Fetch one branch (cheap on a remote with hundreds of agent branches); its sha, or
        None when the remote does not have it (then the local copy is dropped too)."""
        name = _plain(branch, "branch")
        local = f"refs/remotes/origin/{name}"
        async with self._lock:
            result = await self._git(
                "fetch", "--quiet", "origin", f"+refs/heads/{name}:{local}", ok_codes=(0, 128)
            )
            if result.code != 0:
                if "couldn't find remote ref" not in result.stderr:
                    raise GitError.from_result(("fetch", "origin", name), result)
                await self._git("update-ref", "-d", local, ok_codes=(0, 1))
                return None
            found = await self._git("rev-parse", "--verify", "--quiet", local, ok_codes=(0, 1))
        return found.stdout.strip() or None

    async def ls_remote_ok(self) -> None:
        """Raise GitError unless the remote answers (for `orchd doctor`; no local repo needed)."""
        await run_git(["ls-remote", "--heads", self.remote_url], cwd=None, timeout_s=self.timeout_s)

    # --- reading -----------------------------------------------------------------------------

    async def remote_sha(self, branch: str) -> str | None:
        """The remote branch's sha as of the last fetch (or our last push), None if absent."""
        ref = f"refs/remotes/origin/{_plain(branch, 'branch')}"
        async with self._lock:
            result = await self._git("rev-parse", "--verify", "--quiet", ref, ok_codes=(0, 1))
        return result.stdout.strip() or None

    async def remote_branches(self, prefix: str) -> list[str]:
        """Remote branches under `prefix/` as of the last fetch (e.g. orchd's scratch refs)."""
        ref = f"refs/remotes/origin/{_plain(prefix, 'branch').rstrip('/')}/"
        async with self._lock:
            result = await self._git("for-each-ref", "--format=%(refname)", ref)
        strip = len("refs/remotes/origin/")
        return [line[strip:] for line in result.stdout.splitlines() if line.strip()]

    async def resolve(self, rev: str) -> str | None:
        """The commit `rev` names (a sha, `origin/main`, `HEAD~2`), None if it names none."""
        spec = f"{_plain(rev, 'revision')}^{{commit}}"
        async with self._lock:
            result = await self._git("rev-parse", "--verify", "--quiet", spec, ok_codes=(0, 1))
        return result.stdout.strip() or None

    async def is_ancestor(self, a: str, b: str) -> bool:
        """Whether `a` is reachable from `b` (a commit is its own ancestor)."""
        async with self._lock:
            result = await self._git(
                "merge-base",
                "--is-ancestor",
                _plain(a, "commit"),
                _plain(b, "commit"),
                ok_codes=(0, 1),
            )
        return result.code == 0

    async def files_at(self, sha: str) -> list[str]:
        """Every file path in the commit's tree."""
        async with self._lock:
            result = await self._git("ls-tree", "-r", "--name-only", "-z", _plain(sha, "commit"))
        return [name for name in result.stdout.split("\0") if name]

    async def first_parent_log(self, tip: str, stop: str | None) -> list[LoggedCommit]:
        """Commits on the first-parent line `stop..tip` (all when stop is None), newest first.

        On the release branch that is one commit per landed FU, trailers included.
        """
        head = _plain(tip, "commit")
        span = head if stop is None else f"{_plain(stop, 'commit')}..{head}"
        # NUL cannot occur in a commit message, so it safely separates fields and records.
        async with self._lock:
            result = await self._git(
                "log", "--first-parent", "-z", "--format=%H%x00%P%x00%s%x00%B", span
            )
        return [
            LoggedCommit(
                sha=sha,
                parents=tuple(parents.split()),
                subject=subject,
                trailers=parse_trailers(body),
            )
            for sha, parents, subject, body in _chunks(result.stdout.split("\0"), 4)
        ]

    # --- merging -----------------------------------------------------------------------------

    async def merge_check(self, ours: str, theirs: str) -> MergeCheck:
        """Merge in memory (`merge-tree --write-tree`): no worktree, no index, nothing moved.

        git 2.39 exits 1 both for a conflict and for "not something we can merge", so a conflict
        is recognised by the tree id it prints first; paths are NUL-separated (`-z`) because
        otherwise git C-quotes unusual names.
        """
        args = (
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "-z",
            _plain(ours, "commit"),
            _plain(theirs, "commit"),
        )
        async with self._lock:
            result = await self._git(*args, ok_codes=(0, 1))
        tree, *paths = result.stdout.split("\0")
        tree = tree.strip()
        if not _is_oid(tree):
            raise GitError.from_result(args, result)
        if result.code == 0:
            return MergeCheck(clean=True, tree=tree, conflicts=())
        return MergeCheck(clean=False, tree=None, conflicts=tuple(sorted({p for p in paths if p})))

    async def commit_merge(
        self, tree: str, first_parent: str, second_parent: str, message: str
    ) -> str:
        """Make the merge commit for a clean `merge_check` tree; nothing points at it yet."""
        async with self._lock:
            result = await self._git(
                "commit-tree",
                _plain(tree, "tree"),
                "-p",
                _plain(first_parent, "commit"),
                "-p",
                _plain(second_parent, "commit"),
                "-F",
                "-",
                input_text=message,
            )
        return result.stdout.strip()

    # --- moving refs -------------------------------------------------------------------------

    async def update_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Compare-and-swap `ref` from `old` (None: must not exist) to `new`; False if refused."""
        if not ref.startswith("refs/"):
            raise ValueError(f"update_ref needs a full ref name (refs/...), got {ref!r}")
        args = ("update-ref", ref, _plain(new, "commit"), old or "")
        async with self._lock:
            result = await self._git(*args, ok_codes=(0, 128))
        if result.code == 0:
            return True
        if any(marker in result.stderr for marker in _CAS_REFUSED):
            return False
        raise GitError.from_result(args, result)

    async def push(
        self, sha: str, branch: str, *, expected_old: str | None, force: bool = False
    ) -> bool:
        """Push `sha` to the remote's `branch` only if it still is `expected_old` (None: absent).

        False when the remote moved (lease or fast-forward refused): fetch and decide again.
        A refusal by the remote itself (`[remote rejected]`: protected branch, hook) is a
        GitError, since retrying cannot help. `force` overwrites unconditionally (orchd's own
        scratch branches only). On success the local `origin/<branch>` is moved to `sha`.
        """
        dst = f"refs/heads/{_plain(branch, 'branch')}"
        src = _plain(sha, "commit")
        if force:
            args: tuple[str, ...] = ("push", "--porcelain", "origin", f"+{src}:{dst}")
        else:
            lease = f"--force-with-lease={dst}:{expected_old or ''}"
            args = ("push", "--porcelain", lease, "origin", f"{src}:{dst}")
        async with self._lock:
            result = await self._git(*args, ok_codes=(0, 1))
            if result.code == 0:
                await self._git("update-ref", f"refs/remotes/origin/{branch}", src)
                return True
        summary = _push_summary(result.stdout, dst)
        if summary is not None:
            if summary.startswith("[rejected]"):
                return False
            raise GitError(
                args, result.code, result.stderr, f"git push to {branch} refused: {summary}"
            )
        if any(marker in result.stderr for marker in _PUSH_REFUSED):
            return False
        raise GitError.from_result(args, result)

    # --- worktrees ---------------------------------------------------------------------------

    async def add_worktree(self, path: Path, sha: str) -> None:
        """Check `sha` out, detached (a branch can be out in one worktree only), at `path`."""
        async with self._lock:
            await self._git(
                "worktree",
                "add",
                "--detach",
                "--force",
                "--quiet",
                _absolute(path),
                _plain(sha, "commit"),
            )

    async def remove_worktree(self, path: Path) -> None:
        """Delete the worktree and its registration; a path already gone is fine."""
        target = _absolute(path)
        async with self._lock:
            if await in_thread(Path(target).exists):
                await self._git("worktree", "remove", "--force", target)
            await self._git("worktree", "prune")

    async def delete_branch(self, branch: str) -> None:
        """Delete one of orchd's own scratch branches on the remote; already gone is fine."""
        dst = f"refs/heads/{_plain(branch, 'branch')}"
        async with self._lock:
            result = await self._git("push", "--porcelain", "origin", f":{dst}", ok_codes=(0, 1))
            if result.code == 0 or "remote ref does not exist" in result.stderr:
                await self._git(
                    "update-ref", "-d", f"refs/remotes/origin/{branch}", ok_codes=(0, 1)
                )
                return
        raise GitError.from_result(("push", "origin", f":{dst}"), result)
