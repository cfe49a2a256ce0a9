"""Run every benchmark and collect their Markdown figures into bench/RESULTS.md.

    python -m bench.run [--quick] [--only engine,sentinel2,training] [--device cpu|gpu] [--out bench/RESULTS.md]

Each benchmark is a module of this package that prints Markdown (its tables and ratios against a
baseline measured in the same run) and takes `--quick` for a smaller smoke run. Each one runs in a child
process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = ("engine", "sentinel2", "training", "polygonize", "shards")
HERE = Path(__file__).resolve().parent


def machine_description() -> str:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        gpu = "unknown (torch not installed)"
    return (
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
        f"- machine: {platform.node()}, {os.cpu_count()} CPU cores ({cpu}), GPU: {gpu}\n"
        f"- Python {platform.python_version()}, ONNX Runtime {onnxruntime.__version__} "
        f"(providers: {', '.join(onnxruntime.get_available_providers())})\n"
    )


def run_benchmark(name: str, quick: bool, device: str = "cpu") -> tuple[str, bool]:
    command = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if quick else [])
    if name == "engine":
        command += ["--device", device]
    print(f"[bench] {' '.join(command[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=HERE.parent, stdout=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    ok = completed.returncode == 0
    body = completed.stdout.strip() or "(no output)"
    status = "" if ok else f"\n\n**Failed with exit code {completed.returncode}.**"
    return f"## {name}\n\n{body}{status}\n\n_(ran in {elapsed:.0f} s)_\n", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: a smoke run, not figures to quote"
    )
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmarks to run")
    parser.add_argument(
        "--device", choices=("cpu", "gpu"), default="cpu", help="where the engine benchmark runs"
    )
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {list(BENCHMARKS)}")

    sections, failures = [], []
    for name in names:
        text, ok = run_benchmark(name, args.quick, args.device)
        sections.append(text)
        if not ok:
            failures.append(name)
    kind = "quick smoke run (not figures to quote)" if args.quick else "full run"
    report = f"# Benchmark results\n\n{kind}\n\n{machine_description()}\n" + "\n".join(sections)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    print(f"[bench] written to {args.out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
