"""Training benchmark: U-T&T training samples/s and inference patches/s in torch, fp32 against mixed
precision (bf16 autocast on CPU, fp16 on CUDA) and channels-last, all measured in the same run.

    python bench/training.py [--quick] [--device cpu|cuda] [--batch 2] [--dates 12] [--steps 4]

Default: the published U-T&T (U-Net ResNet-34 + U-TAE 64/64/128/128, 512 px tiles, 40 px Sentinel-2
windows, T dates) with random weights and random inputs; --quick uses the `quick` preset's small model
at 64 px for a smoke run. On a GPU machine run it with --device cuda (the mixed-precision rows then use
fp16 autocast, as `trainer.precision=16-mixed` does in Lightning; bf16 where the GPU supports it).
Prints a Markdown table; ratios are against the fp32 row of the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick preset's small model at 64 px")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per case (after one warm-up)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
