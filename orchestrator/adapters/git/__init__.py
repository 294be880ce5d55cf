"""The git CLI adapter: every git call orchd makes goes through `run_git` or `GitCache`."""

from orchestrator.adapters.git.cache import GitCache, LoggedCommit, MergeCheck
from orchestrator.adapters.git.runner import MIN_GIT, GitError, GitResult, git_version, run_git

__all__ = [
    "MIN_GIT",
    "GitCache",
    "GitError",
    "GitResult",
    "LoggedCommit",
    "MergeCheck",
    "git_version",
    "run_git",
]
