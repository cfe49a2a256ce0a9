"""Training benchmark: U-T&T training samples/s and inference patches/s in torch, fp32 against mixed
precision (bf16 autocast on CPU, fp16 on CUDA) and channels-last, all measured in the same run.

    python bench/training.py [--quick] [--device cpu|cuda] [--batch 2] [--dates 12] [--steps 4]
    python bench/training.py --busy [--seconds 20] [--competitors 2]

Default: the published U-T&T (U-Net ResNet-34 + U-TAE 64/64/128/128, 512 px tiles, 40 px Sentinel-2
windows, T dates) with random weights and random inputs; --quick uses the `quick` preset's small model
at 64 px for a smoke run. On a GPU machine run it with --device cuda (the mixed-precision rows then use
fp16 autocast, as `trainer.precision=16-mixed` does in Lightning; bf16 where the GPU supports it).
Prints a Markdown table; ratios are against the fp32 row of the same run.

--busy measures the quick preset's training iterations/s (batch 8, 64 px, as `flair-train fit --config
quick` runs them) on the machine as it is and with competing CPU-bound processes (Python busy loops, one
per core, stopped after the measurement), with torch's thread defaults and with the settings the
`flair-train` entry point applies (flair_training.threads), each in a fresh process; it prints the load
average next to each figure and the ratios busy/idle and after/before.
"""

from __future__ import annotations

import sys

from flair_training.threads import available_cores, prepare_openmp, set_torch_threads

# This benchmark runs as `flair-train` does, unless a --busy worker measures torch's own defaults: OpenMP
# reads its wait policy once, when torch loads it.
if "--torch-defaults" not in sys.argv:
    prepare_openmp()

import argparse
import contextlib
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass

import torch

from flair_training.config import load_config
from flair_training.lightning_module import build_model


@dataclass
class Case:
    name: str
    autocast: torch.dtype | None
    channels_last: bool


def cases(device: str) -> list[Case]:
    half = torch.bfloat16 if device == "cpu" else torch.float16
    label = "bf16" if half == torch.bfloat16 else "fp16"
    rows = [
        Case("fp32", None, False),
        Case(f"{label} autocast", half, False),
        Case("fp32 channels-last", None, True),
        Case(f"{label} autocast + channels-last", half, True),
    ]
    if device == "cuda" and torch.cuda.is_bf16_supported():
        rows.append(Case("bf16 autocast", torch.bfloat16, False))
    return rows


def inputs(config: dict, batch: int, dates: int, device: str, channels_last: bool):
    size, window = config["data"]["tile_size"], config["model"]["window_size"]
    aerial = torch.rand(batch, 5, size, size, device=device)
    if channels_last:
        aerial = aerial.contiguous(memory_format=torch.channels_last)
    sentinel2 = torch.rand(batch, dates, 10, window, window, device=device) + 0.05
    positions = torch.linspace(-230, 120, dates, device=device).repeat(batch, 1)
    labels = torch.randint(0, 13, (batch, size, size), device=device)
    return aerial, sentinel2, positions, labels


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(config: dict, case: Case, device: str, batch: int, dates: int, steps: int) -> tuple[float, float]:
    """(training samples/s, inference patches/s) for one case, after one warm-up step each."""
    torch.manual_seed(0)
    model = build_model(config).to(device)
    if case.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    aerial, sentinel2, positions, labels = inputs(config, batch, dates, device, case.channels_last)
    scaler = torch.amp.GradScaler(device, enabled=case.autocast == torch.float16)
    autocast = (
        torch.autocast(device_type=device, dtype=case.autocast) if case.autocast else contextlib.nullcontext()
    )

    def train_step() -> None:
        with autocast:
            logits, aux = model(aerial, sentinel2, positions)
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss = loss + torch.nn.functional.cross_entropy(aux.float(), labels)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        optimiser.zero_grad(set_to_none=True)

    def infer_step() -> None:
        with torch.inference_mode(), autocast:
            model.segment(aerial, sentinel2, positions).softmax(dim=1)

    def samples_per_second(step) -> float:
        step()  # warm-up, not timed
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        return steps * batch / (time.perf_counter() - start)

    model.train()
    train_rate = samples_per_second(train_step)
    model.eval()
    infer_rate = samples_per_second(infer_step)
    return train_rate, infer_rate


def training_rate(seconds: float, dates: int) -> dict:
    """Quick-preset training iterations/s over `seconds` (after two warm-up steps), in this process."""
    config = load_config("quick")
    torch.manual_seed(0)
    model = build_model(config).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=config["optim"]["lr"])
    aerial, sentinel2, positions, labels = inputs(config, config["data"]["batch_size"], dates, "cpu", False)

    def step() -> None:
        logits, aux = model(aerial, sentinel2, positions)
        loss = torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(
            aux, labels
        )
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    load = os.getloadavg()[0]
    iterations, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        iterations += 1
    elapsed = time.perf_counter() - start
    return {
        "iterations_per_s": iterations / elapsed,
        "iterations": iterations,
        "load_at_start": load,
        "load_at_end": os.getloadavg()[0],
        "threads": torch.get_num_threads(),
        "wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
    }


BUSY_LOOP = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)
#: A competitor like another torch job on the machine: small matrix products on torch's default threads.
TORCH_LOOP = (
    "import sys, time, torch\na = torch.rand(96, 96)\nend = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end:\n    a = torch.tanh(a @ a)\n"
)


@contextlib.contextmanager
def competitors(count: int, seconds: float, kind: str = "python"):
    """`count` CPU-bound processes (Python busy loops, or torch loops), each bounded to `seconds`,
    stopped on exit."""
    code = TORCH_LOOP if kind == "torch" else BUSY_LOOP
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # torch's defaults
    processes = [subprocess.Popen([sys.executable, "-c", code, str(seconds)], env=env) for _ in range(count)]
    try:
        time.sleep(1.0)  # let them take the cores
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def busy_worker(setting: str, seconds: float, dates: int) -> dict:
    command = [sys.executable, __file__, "--busy-worker", "--seconds", str(seconds), "--dates", str(dates)]
    env = dict(os.environ)
    if setting == "torch defaults":
        command.append("--torch-defaults")
        env.pop("OMP_WAIT_POLICY", None)
    elif setting == "flair-train, 1 thread":
        command += ["--threads", "1"]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def busy_comparison(seconds: float, count: int, dates: int, kind: str = "python") -> None:
    what = (
        "Python busy loops" if kind == "python" else "torch loops of small matrix products (torch defaults)"
    )
    print(
        f"quick preset training (batch 8, 64 px, T = {dates}), {seconds:.0f} s per figure, "
        f"{available_cores()} cores available, competitors: {count} {what}\n"
    )
    settings = ("torch defaults", "flair-train", "flair-train, 1 thread")
    rows = []
    for setting in settings:
        idle = busy_worker(setting, seconds, dates)
        with competitors(count, seconds + 30, kind):
            busy = busy_worker(setting, seconds, dates)
        rows.append((setting, idle, busy))
    print(
        "| threads setting | torch threads, OMP_WAIT_POLICY | as is: it/s (load) | competing: it/s (load) | competing / as is | competing, vs torch defaults |"
    )
    print("|---|---|---|---|---|---|")
    base_busy = rows[0][2]["iterations_per_s"]
    for setting, idle, busy in rows:
        print(
            f"| {setting} | {idle['threads']}, {idle['wait_policy']} "
            f"| {idle['iterations_per_s']:.2f} ({idle['load_at_start']:.1f}) "
            f"| {busy['iterations_per_s']:.2f} ({busy['load_at_start']:.1f}) "
            f"| {busy['iterations_per_s'] / idle['iterations_per_s']:.2f}x "
            f"| {busy['iterations_per_s'] / base_busy:.2f}x |"
        )
    print("\nload: the 1-minute load average when the figure's timing began (os.getloadavg).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick preset's small model at 64 px")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per case (after one warm-up)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: the cores available)"
    )
    parser.add_argument(
        "--busy", action="store_true", help="quick-preset training, idle and with competitors"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="--busy: timing per figure")
    parser.add_argument(
        "--competitors", type=int, default=None, help="--busy: busy loops (default: one per core)"
    )
    parser.add_argument(
        "--competitor",
        default="python",
        choices=["python", "torch"],
        help="--busy: kind of competing process",
    )
    parser.add_argument("--busy-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--torch-defaults", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.torch_defaults:
        set_torch_threads(args.threads)
    if args.busy_worker:
        print(json.dumps(training_rate(args.seconds, args.dates)))
        return
    if args.busy:
        busy_comparison(args.seconds, args.competitors or available_cores(), args.dates, args.competitor)
        return
    config = load_config("quick" if args.quick else "utt_baseline")
    model = config["model"]
    print(
        f"U-T&T {model['encoder_name']} + U-TAE {model['encoder_widths']}, {config['data']['tile_size']} px tiles, "
        f"{model['window_size']} px Sentinel-2 windows, T = {args.dates}, batch {args.batch}, {args.steps} timed steps"
    )
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'CPU'}"
    print(
        f"device: {args.device} ({where}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n"
    )
    rows = []
    for case in cases(args.device):
        train_rate, infer_rate = measure(config, case, args.device, args.batch, args.dates, args.steps)
        rows.append((case.name, train_rate, infer_rate))
    base_train, base_infer = rows[0][1], rows[0][2]
    print("| case | training samples/s | ratio | inference patches/s | ratio |")
    print("|---|---|---|---|---|")
    for name, train_rate, infer_rate in rows:
        print(
            f"| {name} | {train_rate:.3f} | {train_rate / base_train:.2f}x | {infer_rate:.3f} | {infer_rate / base_infer:.2f}x |"
        )
    if args.device == "cpu":
        print(
            "\nOn a machine with a CUDA GPU: `python -m bench.training --device cuda --batch 8` (fp16 autocast rows)."
        )


if __name__ == "__main__":
    main()
