"""Training-loop overhead: a fit against a hand-written torch loop with the same
network, batches and epochs.

On the tabular law (n rows, 20 % outliers), one torch thread, interleaved repeats
of: ``hand loop`` (the default ``MLP``, ``Adam(lr=1e-3, weight_decay=3e-4)``, 100
epochs of 32 ``randperm`` batches, unit-weighted squared error over the batch
size); ``RobustNetRegressor(swa_start=None)`` (adds target scaling, input checks,
skorch's callbacks and history); ``DeepGUMRegressor(swa_start=None)`` (adds a
residual pass and an EM fit per epoch after the warm-up, and the quadratic loss),
whose SGD epochs alone (``fit_seconds_["sgd"]``) are the third line. Times are the
process's CPU seconds (one thread: time the process was descheduled does not
count). Each repeat times every fit once, in turn; a ratio is taken within a
repeat (fit / that repeat's hand loop) and the report gives the median and the
spread (min-max) of those ratios over the repeats, after an untimed fit of each.
Prints, and writes to ``benchmarks/results_loop.md``.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/bench_loop.py [--n 10000]
[--repeats 9]`` (about 12 s per repeat on one core).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _laws import draw

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.backbones import MLP
from sk_deepgum.baselines import RobustNetRegressor

EPOCHS = 100
BATCHES_PER_EPOCH = 32
REPORT = Path(__file__).with_name("results_loop.md")


def hand_loop(X: np.ndarray, y: np.ndarray, seed: int) -> None:
    X_t = torch.as_tensor(X, dtype=torch.float32)
    y_t = torch.as_tensor(y.reshape(len(y), -1), dtype=torch.float32)
    weights = torch.ones_like(y_t)
    torch.manual_seed(seed)
    module = MLP(X.shape[1], y_t.shape[1])
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, weight_decay=3e-4)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        order = torch.randperm(len(X_t), generator=generator)
        for index in torch.tensor_split(order, BATCHES_PER_EPOCH):
            optimizer.zero_grad()
            error = module(X_t[index]) - y_t[index]
            loss = (weights[index] * error**2).sum() / len(index)
            loss.backward()
            optimizer.step()


def timed(fit) -> tuple[float, float, object]:
    """CPU seconds, wall seconds and the result of ``fit()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fit()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    if math.ceil(args.n / 32) < 32:
        parser.error("--n must be above 1,024 rows (32 'auto' batches of 32+ rows).")
    torch.set_num_threads(1)
    data = draw("tabular", args.n, 0.2, 0)
    X, y = data.X, np.ravel(data.y)
    fits = {
        "hand loop": lambda: hand_loop(X, y, 0),
        "RobustNetRegressor": lambda: RobustNetRegressor(
            swa_start=None, max_epochs=EPOCHS, random_state=0
        ).fit(X, y),
        "DeepGUMRegressor": lambda: DeepGUMRegressor(
            swa_start=None, max_epochs=EPOCHS, random_state=0
        ).fit(X, y),
    }
    for fit in fits.values():
        fit()
    sgd = "DeepGUMRegressor, SGD epochs"
    seconds = {name: [] for name in [*fits, sgd]}
    hand_wall = []
    for repeat in range(args.repeats):
        for name, fit in fits.items():
            cpu, wall, model = timed(fit)
            seconds[name].append(cpu)
            if name == "hand loop":
                hand_wall.append(wall)
            elif name == "DeepGUMRegressor":
                seconds[sgd].append(model.fit_seconds_["sgd"])
        print(
            f"repeat {repeat}: "
            + ", ".join(f"{name} {s[-1]:.2f} s" for name, s in seconds.items()),
            flush=True,
        )
    hand = np.asarray(seconds["hand loop"])
    lines = [
        "# Training-loop overhead",
        "",
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/bench_loop.py --n {args.n} "
        f"--repeats {args.repeats}`",
        "",
        f"Tabular law, n = {args.n}, 20 % outliers; {EPOCHS} epochs of "
        f"{BATCHES_PER_EPOCH} batches; one torch thread; CPU seconds; ratios within "
        "a repeat (fit / that repeat's hand loop), median and min-max over the "
        "repeats. The SGD line is the part of the DeepGUM fit spent in its epochs "
        "(`fit_seconds_['sgd']`, wall seconds, against the hand loop's wall "
        "seconds); the rest of that fit is its residual passes and EM, which a "
        "hand-written DeepGUM pays too.",
        "",
        f"Environment: {platform.platform()}, python {sys.version.split()[0]}, "
        f"torch {torch.__version__}, load average before the report "
        f"{os.getloadavg()[0]:.2f}, date "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "| fit | median s | median ratio to the hand loop | min-max ratio |",
        "|---|---|---|---|",
    ]
    for name, values in seconds.items():
        ratios = np.asarray(values) / (np.asarray(hand_wall) if name == sgd else hand)
        lines.append(
            f"| {name} | {np.median(values):.3f} | {np.median(ratios):.3f} | "
            f"{ratios.min():.3f}-{ratios.max():.3f} |"
        )
    REPORT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-6:]))


if __name__ == "__main__":
    main()
