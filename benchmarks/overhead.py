"""How much of a trial's wall time is not training: per-trial overhead, and where it goes.

For each trial of a real ``tempopt run`` (search only, one thread, a fresh SQLite file):

- ``compute``: training and evaluation alone (the trial's user attr ``compute_seconds``);
- ``epoch callbacks``: the job's time in its per-epoch callback, i.e. ``trial.report``, the
  pruner's query and the progress hook (``job_seconds − compute_seconds``);
- ``outside the job``: the rest of the trial's wall time (``datetime_complete −
  datetime_start − job_seconds``): suggesting params, user attrs, the task and model set-up,
  the heartbeat thread, telling the result.

Overhead = 1 − compute / wall, median over the trials (goals: ≤ 10 % on the quickstart, ≤ 3 %
on studies/mnist1d.yaml). Prints the share of each part; asserts nothing.

Run: ``python benchmarks/overhead.py [--study quickstart mnist1d] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import yaml
from study_runs import run_study

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {"quickstart": ROOT / "studies" / "quickstart.yaml", "mnist1d": ROOT / "studies" / "mnist1d.yaml"}


def measure(name: str, folder: Path, quick: bool) -> dict[str, float]:
    """Run the study (search only) and return the median shares of a trial's wall time."""
    spec = yaml.safe_load(STUDIES[name].read_text())
    spec.update(verify={"top_k": 1, "seeds": 0}, cache_dir=str(folder / "cache"), cpu_threads=1)
    if quick:
        spec.update(trials=8, epochs=min(spec["epochs"], 6 if name == "quickstart" else 3))
        if name == "mnist1d":
            spec["task_args"] = {**spec["task_args"], "transfer": 4000}
        spec["pruner"] = {"name": "none"}
    study = run_study(spec, folder)
    shares: dict[str, list[float]] = {"compute": [], "epoch callbacks": [], "outside the job": []}
    for t in study.trials:
        if t.datetime_start is None or t.datetime_complete is None or "compute_seconds" not in t.user_attrs:
            continue
        wall = (t.datetime_complete - t.datetime_start).total_seconds()
        job, compute = float(t.user_attrs["job_seconds"]), float(t.user_attrs["compute_seconds"])
        shares["compute"].append(compute / wall)
        shares["epoch callbacks"].append((job - compute) / wall)
        shares["outside the job"].append((wall - job) / wall)
    medians = {part: statistics.median(values) for part, values in shares.items()}
    print(
        f"{name}: {len(shares['compute'])} trials of {spec['epochs']} epochs; median share of a trial's wall time: "
        + ", ".join(f"{part} {100 * share:.1f} %" for part, share in medians.items())
        + f"; overhead {100 * (1 - medians['compute']):.1f} %"
    )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    ratios_module.add_options(parser)
    args = parser.parse_args()
    measured: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.study:
            medians = measure(name, Path(tmp), args.quick)
            measured[f"{name}_overhead"] = 1 - medians["compute"]
            measured[f"{name}_epoch_callbacks_share"] = medians["epoch callbacks"]
            measured[f"{name}_outside_job_share"] = medians["outside the job"]
    ratios_module.write(args.json, "overhead", measured, quick=args.quick)


if __name__ == "__main__":
    main()
