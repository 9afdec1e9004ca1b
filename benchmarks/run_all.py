"""Every benchmark of benchmarks/ in one go; ``--quick`` is CI-sized. Writes one JSON of ratios.

Each CPU benchmark runs as its own process with ``--quick`` (or its full default size) and
``--json``; its ratios (measured in that one run, as every benchmark here prints them) are
gathered into ``benchmarks/results.json`` (or ``--out``): one entry per benchmark with its ratios,
details, machine and seconds. GPU benchmarks are skipped without CUDA, and say so. Asserts no
timing: a benchmark that fails makes the exit code 1 and its entry says why.

Run: ``python benchmarks/run_all.py [--quick] [--out PATH] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
CPU_BENCHMARKS = {  # name: script and its arguments (besides --quick and --json)
    "hot_path": ["hot_path.py", "--threads", "1", "--devices", "cpu"],
    "batched": ["batched.py"],
    "workers": ["workers.py"],
    "overhead": ["overhead.py"],
    "vs_optuna_script": ["vs_optuna_script.py"],
    "pruning": ["pruning.py"],
    "augmented": ["augmented.py"],
    "startup": ["startup.py"],
}
GPU_BENCHMARKS = {
    "batched_gpu": ["batched.py", "--device", "cuda", "-k", "16", "64", "--precision", "fp32", "bf16", "--no-study"],
}


def run_one(name: str, argv: list[str], quick: bool, folder: Path) -> dict:
    out = folder / f"{name}.json"
    cmd = [sys.executable, str(HERE / argv[0]), *argv[1:], "--json", str(out), *(["--quick"] if quick else [])]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    seconds = round(time.perf_counter() - start, 1)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return {"ok": False, "seconds": seconds, "error": " | ".join(tail) or f"exit code {proc.returncode}"}
    return {"ok": True, "seconds": seconds, **json.loads(out.read_text()), "output": proc.stdout.strip().splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized runs")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args = parser.parse_args()
    chosen = {**CPU_BENCHMARKS, **GPU_BENCHMARKS}
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in chosen.items():
            if name in GPU_BENCHMARKS and not torch.cuda.is_available():
                results[name] = {"ok": True, "skipped": "no CUDA device"}
                print(f"{name}: skipped (no CUDA device)")
                continue
            print(f"{name}: running {' '.join(argv)}{' --quick' if args.quick else ''} …", flush=True)
            results[name] = run_one(name, argv, args.quick, Path(tmp))
            entry = results[name]
            shown = ", ".join(f"{k} {v:.3g}" for k, v in entry.get("ratios", {}).items()) or entry.get("error")
            print(f"{name}: {'ok' if entry['ok'] else 'FAILED'} in {entry['seconds']} s: {shown}", flush=True)
    args.out.write_text(json.dumps({"quick": args.quick, "benchmarks": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not all(r["ok"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
