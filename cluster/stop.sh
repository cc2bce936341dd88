#!/usr/bin/env bash
# Stop the one-node test cluster that cluster/start.sh started: cancel its jobs, stop slurmd
# and slurmctld (by the pid files in the state dir), stop munged only if start.sh started it,
# and remove the /etc/slurm links. Logs stay in the state dir. Safe to run twice.
# Environment: DESCENT_SLURM_DIR (default /tmp/descent-slurm), as for start.sh.
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n --preserve-env=DESCENT_SLURM_DIR "$0" "$@"
    fi
    echo "cluster/stop.sh: needs root or passwordless sudo" >&2
    exit 1
fi
export PATH="$PATH:/usr/sbin:/sbin"
STATE="${DESCENT_SLURM_DIR:-/tmp/descent-slurm}"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {  # stop_pidfile NAME PIDFILE: TERM, wait up to 10 s, then KILL
    local name="$1" pidfile="$2" pid
    alive "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "cluster/stop.sh: $name (pid $pid) ignored TERM, killing it" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
    echo "cluster/stop.sh: stopped $name (pid $pid)"
}

ours=0
[ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$STATE/slurm.conf" ] && ours=1
if [ "$ours" = 1 ] && alive "$STATE/slurmctld.pid"; then
    # Cancel what is still queued or running so no job step outlives the daemons.
    squeue -h -o %i 2>/dev/null | xargs -r scancel --full --quiet 2>/dev/null || true
    for _ in $(seq 100); do
        [ -z "$(squeue -h -t PENDING,RUNNING,COMPLETING,CONFIGURING 2>/dev/null)" ] && break
        sleep 0.1
    done
fi
stop_pidfile slurmd "$STATE/slurmd.pid"
stop_pidfile slurmctld "$STATE/slurmctld.pid"
stop_pidfile munged "$STATE/munged.pid"
for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    [ "$(readlink "$f" 2>/dev/null)" = "$STATE/$(basename "$f")" ] && rm -f "$f"
done
exit 0
