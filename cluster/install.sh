#!/usr/bin/env bash
# Install what a one-node test SLURM cluster needs from Debian's packages (slurm-wlm, munge),
# only if missing. Needs root (or passwordless sudo); prints why and exits 1 otherwise.
# Used by .ci/run before `make test`; cluster/start.sh then starts the cluster.
set -euo pipefail

missing=()
for cmd in slurmctld slurmd sbatch squeue scontrol munged munge; do
    command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 \
        || missing+=("$cmd")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "cluster/install.sh: slurm-wlm and munge already installed"
    exit 0
fi
echo "cluster/install.sh: missing ${missing[*]}; installing slurm-wlm and munge"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "cluster/install.sh: need root or passwordless sudo to apt-get install slurm-wlm munge" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "cluster/install.sh: apt-get not found (Debian/Ubuntu only); install slurm-wlm and munge yourself" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends slurm-wlm munge
echo "cluster/install.sh: installed $(PATH="$PATH:/usr/sbin" slurmctld -V)"
