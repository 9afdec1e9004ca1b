"""Does pruning pay? The same study with each pruner (and none), over several sampler seeds.

For every pruner and seed, ``tempopt run`` on the quickstart study (a fresh SQLite file, one
thread) records the epochs its search trials trained (the compute spent) and its verified
result: the distilled config's mean test accuracy over the verification seeds (what the verdict
rests on). Compared with no pruning: the share of its epochs each pruner spent and how far its
verified accuracy is from the unpruned one (goal: within 0.5 point with at most 40 % of the
compute), median over the seeds. Besides the shipped settings it tries short warm-ups (the
median from epoch 3, successive halving and Hyperband from epoch 1), from which the default
was chosen (README, Performance).

Run: ``python benchmarks/pruning.py [--seeds 0 1 2] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import yaml
from study_runs import run_study

from tempopt.analysis import compute_verdict

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "studies" / "quickstart.yaml"
PRUNERS = {
    "none": {"name": "none"},
    "median": {"name": "median", "warmup_epochs": 8, "startup_trials": 4},
    "median_warmup_3": {"name": "median", "warmup_epochs": 3, "startup_trials": 4},
    "successive_halving": {"name": "successive_halving", "min_resource": 4, "reduction_factor": 3},
    "successive_halving_min_1": {
        "name": "successive_halving",
        "min_resource": 1,
        "reduction_factor": 3,
        "warmup_epochs": 1,
    },
    "hyperband": {"name": "hyperband", "min_resource": 4, "reduction_factor": 3},
    "hyperband_min_1": {"name": "hyperband", "min_resource": 1, "reduction_factor": 3, "warmup_epochs": 1},
}
QUICK = ("none", "median", "successive_halving", "hyperband")


def one_run(pruner: str, seed: int, folder: Path, quick: bool) -> tuple[int, float | None]:
    """(epochs the search trained, the verified distilled test accuracy or None)."""
    spec = yaml.safe_load(QUICKSTART.read_text())
    spec.update(name=f"prune-{pruner}-{seed}", seed=seed, pruner=PRUNERS[pruner], cache_dir=str(folder / "cache"))
    if quick:
        spec.update(trials=10, epochs=10, verify={"top_k": 1, "seeds": 1})
        if "warmup_epochs" in spec["pruner"]:
            spec["pruner"] = {**spec["pruner"], "warmup_epochs": 3}
        if "min_resource" in spec["pruner"]:
            spec["pruner"] = {**spec["pruner"], "min_resource": 2}
    study = run_study(spec, folder)
    epochs = sum(int(t.user_attrs.get("epochs_run", 0)) for t in study.trials)
    verdict = compute_verdict(study)
    tested = statistics.fmean(verdict.distilled.test) if verdict.verified and verdict.distilled else None
    return epochs, tested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=list(PRUNERS))
    ratios_module.add_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.seeds = [0]
        args.pruners = [p for p in args.pruners if p in QUICK]
    results: dict[str, dict[int, tuple[int, float | None]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for pruner in ["none"] + [p for p in args.pruners if p != "none"]:
                results.setdefault(pruner, {})[seed] = one_run(pruner, seed, Path(tmp), args.quick)
    measured: dict[str, float] = {}
    base = results["none"]
    for pruner, runs in results.items():
        shares = [runs[s][0] / base[s][0] for s in args.seeds]
        gaps = [
            100 * (runs[s][1] - base[s][1]) for s in args.seeds if runs[s][1] is not None and base[s][1] is not None
        ]
        tested = [runs[s][1] for s in args.seeds if runs[s][1] is not None]
        gap = statistics.median(gaps) if gaps else float("nan")
        print(
            f"{pruner:>24}: epochs {statistics.median(shares):.0%} of no pruning's "
            f"(per seed: {', '.join(f'{x:.0%}' for x in shares)}); verified test accuracy "
            f"{statistics.median(tested) if tested else float('nan'):.4f}, {gap:+.2f} points against no pruning "
            f"(per seed: {', '.join(f'{g:+.2f}' for g in gaps)})"
        )
        measured[f"{pruner}_compute_share"] = statistics.median(shares)
        measured[f"{pruner}_verified_gap_points"] = gap
    ratios_module.write(args.json, "pruning", measured, seeds=args.seeds, quick=args.quick)


if __name__ == "__main__":
    main()
