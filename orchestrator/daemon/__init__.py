"""Process edge: the release lock, signals, sd_notify, the HTTP clients. The only package with
signals.

`run_release` turns signals into data: SIGTERM/SIGINT ask the supervisor to abort (stop
launching, cancel active runs, write `aborted`), SIGUSR1 (`orchd detach`, `systemctl reload`) to
detach (stop supervising, leave every agent running, write `detached`); a second SIGTERM/SIGINT
exits at once (uvicorn's force_exit). Tests pass their own `shutdown_trigger` instead of real
signals. Under systemd (`Type=notify`) it reports readiness, progress, liveness and its end.

One job per module: `prepare` / `run_env` (checks before any write), `key_check`, `lock`,
`run` (the release itself), `stops` (signals), `sizing` (connections and file limits),
`decider` (who answers questions), `detach` (`orchd detach` from another process). The names
the commands use are exported here.
"""

from orchestrator.daemon.detach import DetachedDaemon, DetachTimedOut, request_detach
from orchestrator.daemon.key_check import check_api_key
from orchestrator.daemon.lock import release_lock
from orchestrator.daemon.prepare import Prepared, prepare_start, read_existing
from orchestrator.daemon.run import EXIT_FOR_STATUS, run_release
from orchestrator.daemon.run_env import RunEnv, env_for_start, url_has_credentials
from orchestrator.daemon.stops import ShutdownTrigger, Stop

__all__ = [
    "EXIT_FOR_STATUS",
    "DetachTimedOut",
    "DetachedDaemon",
    "Prepared",
    "RunEnv",
    "ShutdownTrigger",
    "Stop",
    "check_api_key",
    "env_for_start",
    "prepare_start",
    "read_existing",
    "release_lock",
    "request_detach",
    "run_release",
    "url_has_credentials",
]
