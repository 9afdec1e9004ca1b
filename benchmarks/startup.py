"""How long the command line takes to start: ``tempopt --help`` against ``optuna --help``.

Each command runs as a fresh process, as a user types it: this interpreter runs what the
``tempopt`` and ``optuna`` console scripts run (each package's ``cli.main`` with ``--help``). Its
wall time includes Python's own start and every import the command needs. The median of the
runs is printed for each, and the ratio tempopt / optuna (goal: at most 2; it was 8 when
``--help`` imported torch). Asserts nothing.

Run: ``python benchmarks/startup.py [--runs N] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import ratios as ratios_module  # benchmarks/ratios.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {  # what the console scripts run
    "tempopt": ["-c", "import sys; from tempopt.cli import main; sys.argv[1:] = ['--help']; main()"],
    "optuna": ["-c", "import sys; from optuna.cli import main; sys.argv[1:] = ['--help']; sys.exit(main())"],
}


def wall_seconds(argv: list[str]) -> float:
    """Wall time of one run of ``python ARGV``, which must succeed."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def median_seconds(argv: list[str], runs: int) -> float:
    """The median wall time of ``runs`` runs, after one unmeasured run (warms the file cache)."""
    wall_seconds(argv)
    return statistics.median(wall_seconds(argv) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (the median is reported)")
    ratios_module.add_options(parser)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    seconds = {name: median_seconds(argv, runs) for name, argv in COMMANDS.items()}
    ratio = seconds["tempopt"] / seconds["optuna"]
    for name in COMMANDS:
        print(f"{name} --help: {seconds[name]:.3f} s (median of {runs} runs)")
    print(f"tempopt / optuna: {ratio:.2f}x (goal: at most 2x)")
    ratios_module.write(
        args.json,
        "startup",
        {"tempopt_help_over_optuna_help": round(ratio, 3)},
        tempopt_help_seconds=round(seconds["tempopt"], 4),
        optuna_help_seconds=round(seconds["optuna"], 4),
        runs=runs,
    )


if __name__ == "__main__":
    main()
