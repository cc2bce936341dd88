"""The workflow on a real SLURM cluster: a one-node cluster started on this machine.

``cluster/start.sh`` starts munged, slurmctld and slurmd on loopback from Debian's slurm-wlm
packages (``cluster/install.sh`` installs them). The module fixture starts it (or reuses one
already running from ``cluster/start.sh``), runs the workflow on the ``.test`` config through
``profiles/slurm`` with the fields a user edits filled in for this cluster, and stops the
daemons it started. Without SLURM, root or passwordless sudo, the tests are skipped with the
reason; with ``DESCENT_REQUIRE_SLURM=1`` (set by ``.ci/run``) they fail instead.

Which targets: every dataset job, one fit job per fit rule (of a generated dataset), and the CUDA
benchmark rule (when present), so that the run stays well under a minute on two cores.
``DESCENT_SLURM_TARGETS=all`` runs the whole ``.test`` DAG instead. Their results are compared with
the same files of the session's local run of the whole workflow on the same config file
(``workflow_run`` in tests/conftest.py), so no second local run is needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, TEST_CONFIG, run_snakemake, snakemake_env

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

CLUSTER = ROOT / "cluster"
PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
STATE_DIR = Path(os.environ.get("DESCENT_SLURM_DIR", "/tmp/descent-slurm"))
REQUIRE = os.environ.get("DESCENT_REQUIRE_SLURM", "") == "1"
GPU_RULE = "matmul_benchmark_cuda"
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

# Snakemake's own log: one line per sbatch submission, one block per job it schedules.
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) ", re.M)
JOB_BLOCK = re.compile(r"^(localrule|rule) (\w+):\n((?:    .*\n)+)", re.M)
FIT_RESULT = re.compile(r"^results/fits/[^/]+/(raw|standardized)/[^/.]+\.json$")
# JSON keys holding timings (machine-dependent, excluded from the local/SLURM comparison).
TIMING_KEY = re.compile(r"(time|timing|seconds|elapsed|duration|wall|gflops|unstable|_s$|_ms$|_ns$|date|host)", re.I)


def unavailable(reason: str) -> None:
    """Skip (or fail, when DESCENT_REQUIRE_SLURM=1) because the cluster cannot be had."""
    if REQUIRE:
        pytest.fail(f"DESCENT_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


def run_cmd(*cmd: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command with /usr/sbin on PATH; fail the test with its output when ``check``."""
    env = dict(os.environ, PATH=SBIN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class Cluster:
    partition: str
    cpus: int  # CPUs of the (only) node
    state_dir: Path


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node SLURM cluster; stops the daemons it started."""
    missing = [
        c
        for c in ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged")
        if shutil.which(c, path=SBIN) is None
    ]
    if missing:
        unavailable(f"SLURM is not installed ({', '.join(missing)} missing): run cluster/install.sh as root")
    if os.geteuid() != 0 and run_cmd("sudo", "-n", "true", check=False).returncode != 0:
        unavailable("starting the test SLURM cluster needs root or passwordless sudo")
    proc = run_cmd(str(CLUSTER / "start.sh"), timeout=120, check=False)
    if proc.returncode != 0:
        run_cmd(str(CLUSTER / "stop.sh"), timeout=120, check=False)  # whatever it got to start
        unavailable(f"cluster/start.sh could not start SLURM:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    started = "DESCENT_SLURM_STARTED=1" in proc.stdout
    try:
        partitions = run_cmd("sinfo", "-h", "-o", "%P").stdout.split()
        default = [p.rstrip("*") for p in partitions if p.endswith("*")] or [p.rstrip("*") for p in partitions]
        cpus = int(run_cmd("sinfo", "-h", "-o", "%c").stdout.split()[0])
        yield Cluster(partition=default[0], cpus=cpus, state_dir=STATE_DIR)
    finally:
        if started:
            run_cmd(str(CLUSTER / "stop.sh"), timeout=120, check=False)


def workflow_outputs(workdir: Path) -> dict[str, str]:
    """Output file -> producing rule for the whole ``.test`` DAG (``snakemake --summary``)."""
    proc = run_snakemake(workdir, "--summary", "all")
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line.count("\t") >= 5]
    return {row[0]: row[2] for row in rows[1:]}


def choose_targets(outputs: dict[str, str]) -> list[str]:
    """Dataset files, the outputs of one fit job per fit rule (if any) and of the GPU rule (if
    present).

    The fits are of a generated dataset: a ``kind: file`` dataset waits for its export job, and
    each such link in the chain costs a round of SLURM status checks (about 14 s here)."""
    if os.environ.get("DESCENT_SLURM_TARGETS") == "all":
        return ["all"]
    targets = sorted(f for f, rule in outputs.items() if rule == "dataset")
    datasets = yaml.safe_load(TEST_CONFIG.read_text())["datasets"]
    generated = {name for name, spec in datasets.items() if spec["kind"] != "file"}
    # one fit job per fit rule (results/fits/{dataset}/{scaling}/{method}.json), if the stage exists;
    # of the rules running every fit of a dataset and scaling (fit_{dataset}_{scaling}), the one
    # with the fewest fits, as one job of several fits
    fits: dict[str, str] = {}
    per_rule: dict[str, int] = {}
    for rule in outputs.values():
        per_rule[rule] = per_rule.get(rule, 0) + 1
    for path, rule in sorted(outputs.items(), key=lambda item: (per_rule[item[1]], item)):
        if FIT_RESULT.match(path) and path.split("/")[2] in generated:
            grouped = rule.startswith("fit_") and rule not in ("fit_iterative", "fit_closed_form")
            fits.setdefault("a job of several fits" if grouped else rule, path)
    targets += sorted(fits.values())
    targets += sorted(f for f, rule in outputs.items() if rule == GPU_RULE)
    return targets


def user_profile(cluster: Cluster, dest: Path) -> Path:
    """profiles/slurm edited the way the README tells a user to, plus loopback-cluster settings.

    The partition placeholder becomes this cluster's partition and max-threads its node's CPU
    count (no account: this cluster has none). No accounting database runs
    here, so job status comes from ``squeue`` (kept 300 s by MinJobAge), first checked after 2 s
    instead of 40 s; successful jobs' SLURM logs are kept for the checks below.
    """
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["default-resources"]["slurm_partition"] == "EDIT-ME", "placeholder users edit"
    assert profile["set-resources"][GPU_RULE]["gpu"] == 1
    profile["default-resources"]["slurm_partition"] = cluster.partition
    profile["max-threads"] = cluster.cpus
    profile.update(
        {
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "slurm-keep-successful-logs": True,
        }
    )
    dest.mkdir(parents=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def scheduled_jobs(log: str) -> dict[int, tuple[str, str, bool]]:
    """Snakemake job id -> (rule, wildcards, local?) for every job block in a Snakemake log."""
    jobs = {}
    for kind, rule, body in JOB_BLOCK.findall(log):
        fields = dict(line.strip().split(": ", 1) for line in body.splitlines() if ": " in line)
        jobs[int(fields["jobid"])] = (rule, fields.get("wildcards", ""), kind == "localrule")
    return jobs


def slurm_job(job_id: str) -> dict[str, str]:
    """``scontrol show job -o`` of one SLURM job as a dict (finished jobs stay MinJobAge=300 s)."""
    out = run_cmd("scontrol", "show", "job", "-o", job_id).stdout
    return dict(item.split("=", 1) for item in out.split() if "=" in item)


@dataclass
class SlurmRun:
    workdir: Path
    targets: list[str]
    log: str
    submitted: dict[int, str]  # Snakemake job id -> SLURM job id
    jobs: dict[int, tuple[str, str, bool]]
    slurm: dict[str, dict[str, str]]  # SLURM job id -> scontrol fields
    rules_in_workflow: set[str]


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory, workflow_config) -> SlurmRun:
    """The chosen targets run through profiles/slurm on the test cluster, with the config file of
    the session's local run (``workflow_config``: the ``.test`` config), which they are compared
    with."""
    outputs = workflow_outputs(tmp_path_factory.mktemp("summary"))
    targets = choose_targets(outputs)
    workdir = tmp_path_factory.mktemp("slurm")
    profile = user_profile(slurm_cluster, tmp_path_factory.mktemp("profile") / "slurm")
    return run_through_profile(workdir, workflow_config, profile, targets, set(outputs.values()))


def run_through_profile(
    workdir: Path, configfile: Path, profile: Path, targets: list[str], rules_in_workflow: set[str]
) -> SlurmRun:
    """``targets`` run through the SLURM ``profile`` as a user runs them (no --cores: the profile
    sets it), not through run_snakemake; what Snakemake and SLURM say about the jobs."""
    cmd = [
        str(SNAKEMAKE if SNAKEMAKE.exists() else shutil.which("snakemake")),
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        f"--configfile={configfile}",
        "--workflow-profile",
        str(profile),
        *targets,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=snakemake_env(), timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    submitted = {int(j): s for j, s in SUBMITTED.findall(log)}
    return SlurmRun(
        workdir=workdir,
        targets=targets,
        log=log,
        submitted=submitted,
        jobs=scheduled_jobs(log),
        slurm={s: slurm_job(s) for s in submitted.values()},
        rules_in_workflow=rules_in_workflow,
    )


def test_every_job_went_through_sbatch(slurm_run, slurm_cluster):
    remote = {j for j, (_, _, local) in slurm_run.jobs.items() if not local}
    assert remote, slurm_run.log
    assert set(slurm_run.submitted) == remote, slurm_run.log
    assert len(set(slurm_run.submitted.values())) == len(remote)  # one SLURM job each
    ctld_log = (slurm_cluster.state_dir / "slurmctld.log").read_text()
    names = set()
    for job_id, slurm_id in slurm_run.submitted.items():
        info = slurm_run.slurm[slurm_id]
        rule, wildcards, _ = slurm_run.jobs[job_id]
        assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", info
        assert info["Partition"] == slurm_cluster.partition
        assert info["Comment"].startswith(f"rule_{rule}"), info
        # slurmctld itself received the sbatch RPC and saw the job finish with exit status 0
        assert re.search(rf"_slurm_rpc_submit_batch_job: JobId={slurm_id} ", ctld_log), slurm_id
        assert re.search(rf"_job_complete: JobId={slurm_id} WEXITSTATUS 0", ctld_log), slurm_id
        assert int(info["NumCPUs"]) <= slurm_cluster.cpus
        names.add(info["JobName"])
        # the plugin's log of the job: Snakemake ran the rule inside the allocation
        job_logs = list((slurm_run.workdir / ".snakemake/slurm_logs" / f"rule_{rule}").rglob(f"{slurm_id}.log"))
        assert job_logs and f"rule {rule}:" in job_logs[0].read_text(), job_logs
    assert len(names) == 1  # every job carries this run's id as its SLURM job name
    rules = {rule for rule, _, local in slurm_run.jobs.values() if not local}
    assert "dataset" in rules
    if any(FIT_RESULT.match(f) for f in slurm_run.targets):
        assert any(r.startswith("fit") for r in rules), rules
    for target in slurm_run.targets:
        if target != "all":
            assert (slurm_run.workdir / target).is_file(), target


def test_gpu_rule_was_submitted_with_a_gpu_request(slurm_run):
    if GPU_RULE not in slurm_run.rules_in_workflow:
        pytest.skip(f"rule {GPU_RULE} is not in the workflow yet (benchmark stage)")
    gpu_jobs = [s for j, s in slurm_run.submitted.items() if slurm_run.jobs[j][0] == GPU_RULE]
    assert gpu_jobs, slurm_run.log
    for slurm_id in gpu_jobs:
        tres = slurm_run.slurm[slurm_id].get("TresPerJob", "") + slurm_run.slurm[slurm_id].get("TresPerNode", "")
        assert "gpu:1" in tres, slurm_run.slurm[slurm_id]
    # and only that rule asked for one
    for job_id, slurm_id in slurm_run.submitted.items():
        if slurm_run.jobs[job_id][0] != GPU_RULE:
            assert "gpu" not in slurm_run.slurm[slurm_id].get("TresPerJob", ""), slurm_run.slurm[slurm_id]


def without_timings(value):
    """A JSON value with every timing-like key dropped, recursively."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not TIMING_KEY.search(k)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def result_files(workdir: Path) -> dict[str, Path]:
    """Result files under results/, except logs and Snakemake benchmark records."""
    base = workdir / "results"
    return {
        str(p.relative_to(base)): p
        for p in base.rglob("*")
        if p.is_file() and p.relative_to(base).parts[0] not in ("logs", "benchmarks")
    }


def benchmark_outcome(path: Path):
    """What a matmul benchmark file says apart from timings and machine facts (load, clocks):
    which backend, sizes and dtypes ran, with which status, and whether CUDA was available."""
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        keep = [c for c in ("backend", "device", "dtype", "n", "status") if c in frame.columns]
        return frame[keep].to_dict("list")
    facts = json.loads(path.read_text())
    return {k: facts[k] for k in ("backend", "cuda") if k in facts}


def test_results_equal_a_local_run(slurm_run, workflow_run):
    # The local run: the session's run of the whole workflow on the same config file.
    remote, session = result_files(slurm_run.workdir), result_files(workflow_run)
    assert set(remote) <= set(session), sorted(set(remote) - set(session))
    local = {name: session[name] for name in remote}
    for target in slurm_run.targets:
        if target != "all":
            assert target.removeprefix("results/") in local, target
    assert any(name.endswith(".parquet") for name in local)
    for name, path in local.items():
        if path.read_bytes() == remote[name].read_bytes():
            continue
        # The benchmark stage measures the machine: its files agree on what ran, not on timings.
        if name.startswith("benchmark/"):
            assert benchmark_outcome(path) == benchmark_outcome(remote[name]), name
            continue
        # Everything else is deterministic: byte-identical, or differing only in timing fields
        # (JSON keys; parquet columns such as a history's cumulative `seconds`).
        if name.endswith(".parquet"):
            import pandas as pd

            a, b = pd.read_parquet(path), pd.read_parquet(remote[name])
            keep = [c for c in a.columns if not TIMING_KEY.search(c)]
            pd.testing.assert_frame_equal(a[keep], b[keep], check_exact=True, obj=name)
            continue
        assert name.endswith(".json"), f"{name} differs between the SLURM and the local run"
        a, b = json.loads(path.read_text()), json.loads(remote[name].read_text())
        assert without_timings(a) == without_timings(b), f"{name} differs beyond timing fields"


# ---- beyond one machine: a sharded dataset and a data-parallel fit through SLURM -------------

SHARDED_CONFIG = {
    "datasets": {
        "sharded": {
            "kind": "multiscale_gaussian",
            "n": 3000,
            "n_features": 3,
            "seed": 5,
            "scale_range": [0.1, 10.0],
            "true_bias": 2.0,
            "shards": 2,
        }
    },
    "fits": {
        "methods": ["lstsq"],
        "scalings": ["raw", "standardized"],
        "variants": {
            "manual_gd_dp": {"method": "manual_gd", "settings": {"processes": 2, "lr": "optimal", "iterations": 200}}
        },
    },
    "report": {"benchmark": False, "lessons": False},
}
SHARDED_TARGETS = [
    f"results/fits/sharded/{scaling}/{method}.json"
    for scaling in ("raw", "standardized")
    for method in ("lstsq", "manual_gd_dp")
]


@pytest.fixture(scope="module")
def sharded_slurm_run(slurm_cluster, tmp_path_factory):
    """The sharded dataset's closed form (one map job per shard) and a data-parallel fit over 2
    tasks, through profiles/slurm; and the same targets run locally, to compare with."""
    config = tmp_path_factory.mktemp("sharded-config") / "config.yaml"
    config.write_text(yaml.safe_dump(SHARDED_CONFIG))
    local = tmp_path_factory.mktemp("sharded-local")
    run_snakemake(local, *SHARDED_TARGETS, configfile=config)
    workdir = tmp_path_factory.mktemp("sharded-slurm")
    profile = user_profile(slurm_cluster, tmp_path_factory.mktemp("sharded-profile") / "slurm")
    return local, run_through_profile(workdir, config, profile, SHARDED_TARGETS, set())


def test_a_sharded_closed_form_and_a_data_parallel_fit_run_through_slurm_as_locally(sharded_slurm_run):
    local, run = sharded_slurm_run
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job_id, slurm_id in run.submitted.items():
        by_rule.setdefault(run.jobs[job_id][0], []).append(run.slurm[slurm_id])
    # one job per shard writes the data, one per shard and scaling computes its partial statistics
    assert len(by_rule["dataset_shard"]) == 2 and len(by_rule["shard_partials"]) == 4, sorted(by_rule)
    # the data-parallel fits asked SLURM for 2 tasks, and srun started one rank in each
    parallel = [info for info in by_rule["fit_iterative"]]
    assert parallel and all(info["NumTasks"] == "2" for info in parallel), parallel
    for target in SHARDED_TARGETS:
        remote = json.loads((run.workdir / target).read_text())
        here = json.loads((local / target).read_text())
        if "manual_gd_dp" in target:
            assert remote["launcher"].split()[0] == "srun" and "launcher" not in here
            assert remote["processes"] == 2 and remote["rows_per_process"] == [1500, 1500]
            remote.pop("launcher")
        else:
            assert remote["map_reduce"] == {"shards": 2, "rows": 3000}
        assert without_timings(remote) == without_timings(here), target
