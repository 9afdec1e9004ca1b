"""How much of a trial's wall time is not training: per-trial overhead, and where it goes.

For each trial of a real ``tempopt run`` (search only, one thread, a fresh SQLite file, in a
process of its own whose Optuna and tempopt calls are timed):

- ``compute``: training and evaluation alone (the trial's user attr ``compute_seconds``);
- ``epoch reports and pruner``: the job's time in its per-epoch callback
  (``job_seconds − compute_seconds``): recording each epoch's value, the pruner's decisions and
  the writes of the values;
- ``sampler``: the sampler's own work (TPE's model of the past trials and its draws);
- ``parameter writes``: ``trial.suggest_*`` less the sampler, i.e. storing each param;
- ``user attrs``: the trial's user attrs written on their own (its worker, at the start);
- ``last write``: the job's last values and the attrs of what it measured, in one transaction;
- ``start and tell``: the rest of the wall time: the trial's start (and its first heartbeat), the
  check that it is within the study's budget, and telling the result.

Overhead = 1 − compute / wall, the median over the trials (goals: ≤ 10 % on the quickstart, ≤ 3 %
on studies/mnist1d.yaml); the parts are shares of all the trials' wall time together. Asserts
nothing.

Run: ``python benchmarks/overhead.py [--study quickstart mnist1d] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import optuna
import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import yaml

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {"quickstart": ROOT / "studies" / "quickstart.yaml", "mnist1d": ROOT / "studies" / "mnist1d.yaml"}
PARTS = (
    "compute",
    "epoch reports and pruner",
    "sampler",
    "parameter writes",
    "user attrs",
    "last write",
    "start and tell",
)


def run_timed(spec_path: Path, url: str, timings_path: Path) -> None:
    """(In the child process.) ``tempopt run`` with the sampler, suggest and user-attr calls timed."""
    from tempopt.cli.app import main as tempopt_main
    from tempopt.study.search import baseline, epoch_reports
    from tempopt.study.trial import objective
    from tempopt.study.trial import running as trial_run

    totals: dict[str, float] = defaultdict(float)
    depth = {"suggest": 0}

    inside: dict[str, int] = defaultdict(int)  # calls of a part in progress: a nested call counts once

    def timed(owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inside[part] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                inside[part] -= 1
                if not inside[part]:
                    spent = time.perf_counter() - start
                    totals[part] += spent
                    if part == "sampler" and depth["suggest"]:
                        totals["sampler inside suggest"] += spent

        setattr(owner, name, wrapper)

    # the search study's sampler (TPE), the baseline sibling's, and an older study's router
    sampler_methods = ("infer_relative_search_space", "sample_relative", "sample_independent", "before_trial")
    for owner in (optuna.samplers.TPESampler, baseline.BaselineSampler, baseline.BaselineRouter):
        for method in (*sampler_methods, "after_trial"):
            timed(owner, method, "sampler")

    def counted(original: Any) -> Any:
        def suggest(*args: Any, **kwargs: Any) -> Any:
            depth["suggest"] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                depth["suggest"] -= 1
                totals["suggest"] += time.perf_counter() - start

        return suggest

    objective.suggest = counted(objective.suggest)  # distilled trials
    objective.suggest_baseline = counted(objective.suggest_baseline)  # the student alone's
    timed(optuna.trial.Trial, "set_user_attr", "user attrs")
    timed(objective, "set_user_attrs", "user attrs")
    timed(trial_run, "set_user_attrs", "user attrs")
    timed(epoch_reports.EpochReports, "__exit__", "last write")
    sys.argv = ["tempopt", "run", str(spec_path), "--storage", url, "-q"]
    try:
        tempopt_main()
    except SystemExit as e:
        if e.code:
            raise
    timings_path.write_text(json.dumps(totals))


def measure(name: str, folder: Path, quick: bool) -> dict[str, float]:
    """Run the study (search only) and return the median overhead and the share of each part."""
    spec = yaml.safe_load(STUDIES[name].read_text())
    spec.update(verify={"top_k": 1, "seeds": 0}, cache_dir=str(folder / "cache"), cpu_threads=1)
    if quick:
        spec.update(trials=8, epochs=min(spec["epochs"], 6 if name == "quickstart" else 3))
        if name == "mnist1d":
            spec["task_args"] = {**spec["task_args"], "transfer": 4000}
        spec["pruner"] = {"name": "none"}
    path, url, timings = folder / f"{name}.yaml", f"sqlite:///{folder / (name + '.db')}", folder / f"{name}.json"
    path.write_text(yaml.safe_dump(spec))
    child = [sys.executable, __file__, "--child", str(path), url, str(timings)]
    subprocess.run(child, check=True, capture_output=True, cwd=folder)
    totals = json.loads(timings.read_text())
    study = optuna.load_study(study_name=spec["name"], storage=url)
    from tempopt.study.stored import all_trials

    trials = all_trials(study)
    walls, computes, jobs, overheads = [], [], [], []
    for t in trials:  # the search's and the baseline sibling's: every trial the process ran
        if t.datetime_start is None or t.datetime_complete is None or "compute_seconds" not in t.user_attrs:
            continue
        wall = (t.datetime_complete - t.datetime_start).total_seconds()
        walls.append(wall)
        computes.append(float(t.user_attrs["compute_seconds"]))
        jobs.append(float(t.user_attrs["job_seconds"]))
        overheads.append(1 - computes[-1] / wall)
    wall = sum(walls)
    parts = {
        "compute": sum(computes),
        "epoch reports and pruner": sum(jobs) - sum(computes),
        "sampler": totals.get("sampler", 0.0),
        "parameter writes": totals.get("suggest", 0.0) - totals.get("sampler inside suggest", 0.0),
        "user attrs": totals.get("user attrs", 0.0),
        "last write": totals.get("last write", 0.0),
    }
    parts["start and tell"] = wall - sum(parts.values())
    shares = {part: seconds / wall for part, seconds in parts.items()}
    overhead = statistics.median(overheads)
    print(
        f"{name}: {len(walls)} trials of {spec['epochs']} epochs, "
        f"median wall {1000 * statistics.median(walls):.0f} ms; "
        f"overhead (median over trials) {100 * overhead:.1f} %; share of all trials' wall time: "
        + ", ".join(f"{part} {100 * share:.1f} %" for part, share in shares.items())
    )
    return {"overhead": overhead, **shares}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        run_timed(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    ratios_module.add_options(parser)
    args = parser.parse_args()
    measured: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.study:
            result = measure(name, Path(tmp), args.quick)
            measured[f"{name}_overhead"] = result["overhead"]
            for part in PARTS:
                measured[f"{name}_{part.replace(' ', '_')}_share"] = result[part]
    ratios_module.write(args.json, "overhead", measured, quick=args.quick)


if __name__ == "__main__":
    main()
