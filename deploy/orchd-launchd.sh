#!/bin/sh
# orchd-launchd.sh: run orchd under launchd with its secrets from a file only you can read.
#
#   orchd-launchd.sh ENV_FILE ORCHD [ARGS...]
#   e.g. orchd-launchd.sh ~/.config/orchd/env /opt/orchd/.venv/bin/orchd start v0.1.1 ...
#
# ENV_FILE holds KEY=value lines, the same format as systemd's EnvironmentFile= (blank lines
# and #-comments skipped, one pair of surrounding quotes removed, nothing expanded or run):
#   CURSOR_CLOUD_API_URL=https://api.cursor.com/v1
#   CURSOR_CLOUD_API_KEY=...
#   REPO_URL=https://github.com/owner/repo
# It must not be readable or writable by group or others (chmod 600 ENV_FILE); otherwise this
# refuses to start, in one line.
#
# launchd restarts a job that exits non-zero (KeepAlive SuccessfulExit=false). orchd's own exit
# codes (0 completed, 1 failed, 2 bad input, 3 aborted, 4 status file not written, 5 detached)
# are deliberate ends, so this script exits 0 after any of them and launchd leaves the release
# alone; only when orchd is killed by a signal (a crash, the kernel's OOM kill) does it exit
# non-zero, and launchd starts orchd again, which adopts the running agents. launchd's SIGTERM
# (`launchctl stop`, unload) and SIGUSR1 (detach) are passed on to orchd.
set -u

me=orchd-launchd
if [ "$#" -lt 2 ]; then
    echo "$me: usage: orchd-launchd.sh ENV_FILE ORCHD [ARGS...]" >&2
    exit 64
fi
env_file=$1
shift

if [ ! -f "$env_file" ] || [ ! -r "$env_file" ]; then
    echo "$me: $env_file: no such readable file (create it with mode 600: see README)" >&2
    exit 78
fi
# -rw------- : the group and other bits (characters 5 to 10) must all be '-'
mode=$(ls -ln "$env_file" | cut -c1-10)
case $mode in
    ????------) ;;
    *)
        echo "$me: $env_file: readable or writable by group or others ($mode); it holds the API key: chmod 600 $env_file" >&2
        exit 78
        ;;
esac

n=0
while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    case $line in
        '' | '#'* | ';'*) continue ;;
    esac
    key=${line%%=*}
    value=${line#*=}
    case $key in
        '' | [0-9]* | *[!A-Za-z0-9_]* | "$line")
            echo "$me: $env_file:$n: not a KEY=value line" >&2
            exit 78
            ;;
    esac
    case $value in
        \"*\")
            value=${value#\"}
            value=${value%\"}
            ;;
        \'*\')
            value=${value#\'}
            value=${value%\'}
            ;;
    esac
    export "$key=$value"
done < "$env_file"

"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
trap 'kill -USR1 "$child" 2>/dev/null' USR1
# `wait` returns early when a trapped signal arrives: wait again until orchd has really exited
# (an exited orchd not yet reaped still answers kill -0)
while :; do
    wait "$child"
    code=$?
    kill -0 "$child" 2>/dev/null || break
done

if [ "$code" -gt 128 ]; then
    echo "$me: orchd was killed by signal $((code - 128)); launchd starts it again" >&2
    exit "$code"
fi
if [ "$code" -ge 126 ]; then
    echo "$me: could not run $1 (exit $code)" >&2
    exit 78
fi
echo "$me: orchd exited $code (README: Exit codes); launchd leaves it stopped" >&2
exit 0
