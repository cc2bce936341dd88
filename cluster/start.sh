#!/usr/bin/env bash
# Start a one-node SLURM cluster on loopback (munged, slurmctld, slurmd) from Debian's
# slurm-wlm 22.05 packages (cluster/install.sh installs them), for testing the workflow's
# SLURM profile on one machine. Runs as root (re-runs itself through `sudo -n` otherwise);
# no systemd, no cgroups, no accounting database.
#
#   cluster/start.sh          start (or report that it is already running), wait for the node
#   cluster/stop.sh           stop exactly what start.sh started
#
# Environment: DESCENT_SLURM_DIR (state, logs, pid files; default /tmp/descent-slurm),
# DESCENT_SLURM_PARTITION (default debug), DESCENT_SLURM_MEM_MB (node memory; default 85 % of
# the machine's), DESCENT_SLURM_CPUS (default: all), DESCENT_SLURMCTLD_PORT / DESCENT_SLURMD_PORT
# (default 6817 / 6818).
# The config is linked to /etc/slurm/slurm.conf (and gres.conf): the plugin's job step clears
# SLURM_CONF before its inner srun, so only the default path works. If /etc/slurm/slurm.conf
# exists and is not ours (a real cluster's config), this script refuses to touch it.
# The last line printed is `DESCENT_SLURM_STARTED=1` when this call started the daemons,
# `DESCENT_SLURM_STARTED=0` when they were already running.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n --preserve-env=DESCENT_SLURM_DIR,DESCENT_SLURM_PARTITION,DESCENT_SLURM_MEM_MB,DESCENT_SLURM_CPUS,DESCENT_SLURMCTLD_PORT,DESCENT_SLURMD_PORT "$0" "$@"
    fi
    echo "cluster/start.sh: needs root or passwordless sudo" >&2
    exit 1
fi
export PATH="$PATH:/usr/sbin:/sbin"
for cmd in slurmctld slurmd scontrol sinfo munged munge unmunge runuser; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "cluster/start.sh: $cmd not found (run cluster/install.sh)" >&2; exit 1; }
done

STATE="${DESCENT_SLURM_DIR:-/tmp/descent-slurm}"
PARTITION="${DESCENT_SLURM_PARTITION:-debug}"
HOST="$(hostname -s)"
CONF=/etc/slurm/slurm.conf
GRES=/etc/slurm/gres.conf

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

for f in "$CONF" "$GRES"; do
    if [ -e "$f" ] || [ -L "$f" ]; then
        target="$(readlink "$f" || true)"
        if [ "$target" != "$STATE/$(basename "$f")" ]; then
            echo "cluster/start.sh: $f exists and is not this test cluster's (-> ${target:-a regular file});" \
                 "refusing to replace a real SLURM configuration" >&2
            exit 2
        fi
    fi
done

if alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" && scontrol ping >/dev/null 2>&1; then
    echo "cluster/start.sh: already running (state in $STATE)"
    echo "DESCENT_SLURM_STARTED=0"
    exit 0
fi

mkdir -p "$STATE/ctld" "$STATE/slurmd" /etc/slurm

# munge: reuse a working munged, else start one as the munge user with the packaged key.
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    echo "cluster/start.sh: using the running munged"
else
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        fi
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null
    cp /run/munge/munged.pid "$STATE/munged.pid"  # stop.sh stops munged only if we started it
    echo "cluster/start.sh: started munged (pid $(cat "$STATE/munged.pid"))"
fi

# Node size: what slurmd detects, memory minus a reserve for the OS and the submitting side.
detected="$(slurmd -C | head -1)"
cpus="${DESCENT_SLURM_CPUS:-$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$detected")}"
real_mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$detected")"
mem_mb="${DESCENT_SLURM_MEM_MB:-$((real_mem * 85 / 100))}"

sed -e "s|@HOST@|$HOST|g" -e "s|@STATE@|$STATE|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" \
    -e "s|@PARTITION@|$PARTITION|g" -e "s|@CTLD_PORT@|${DESCENT_SLURMCTLD_PORT:-6817}|g" \
    -e "s|@SLURMD_PORT@|${DESCENT_SLURMD_PORT:-6818}|g" "$HERE/slurm.conf.in" >"$STATE/slurm.conf"
sed -e "s|@HOST@|$HOST|g" "$HERE/gres.conf.in" >"$STATE/gres.conf"
ln -sfn "$STATE/slurm.conf" "$CONF"
ln -sfn "$STATE/gres.conf" "$GRES"

# Stale daemons of ours from an earlier run (pid files under $STATE) are stopped first.
for d in slurmd slurmctld; do
    if alive "$STATE/$d.pid"; then kill "$(cat "$STATE/$d.pid")"; sleep 1; fi
done
slurmctld -c   # -c: clear saved jobs and node state; daemonizes, writes $STATE/slurmctld.pid
for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
slurmd         # daemonizes, writes $STATE/slurmd.pid

# Wait for the node to register idle.
state=""
for _ in $(seq 150); do
    state="$(sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -1 || true)"
    [ "$state" = "idle" ] && break
    sleep 0.2
done
if [ "$state" != "idle" ]; then
    echo "cluster/start.sh: node $HOST is '${state:-unknown}', not idle; see $STATE/slurmctld.log, $STATE/slurmd.log" >&2
    tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
    exit 1
fi
echo "cluster/start.sh: SLURM $(scontrol -V | cut -d' ' -f2) up: partition $PARTITION, node $HOST" \
     "(CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1), state and logs in $STATE"
echo "DESCENT_SLURM_STARTED=1"
