"""Ablation of the convergence stop (``tol``): fit time and accuracy at 10,000 rows
and more, side by side with sklearn's ``MLPRegressor``.

On the laws of ``_laws.py`` (linear: linear backbone), per n, rate and seed, in one
process and one torch thread, back to back: ``defaults`` (``DeepGUMRegressor``),
``tol`` (``tol=1e-3, n_iter_no_change=5``), ``tol, sqrt lr`` (also ``lr = 1e-3 *
sqrt(batch_size_ / 32)``, Adam's square-root rule for the 'auto' batches), ``mlp``
(``MLPRegressor`` at its defaults) and ``oracle`` (``RobustNetRegressor`` on the
clean rows). Writes ``benchmarks/results_convergence.md``: mean fit seconds,
epochs and clean-test RMSE per cell, with the ratios the regimes targets use.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/ablation_convergence.py [--sizes 10000]
[--seeds 0 1 2]`` (about 4 minutes at 10,000 rows and 3 seeds on one core).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from _common import rmse
from _laws import clean_test_set, draw
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sk_deepgum import DeepGUMRegressor
from sk_deepgum._data import resolve_batch_size
from sk_deepgum.baselines import RobustNetRegressor

RATES = (0.0, 0.2, 0.4)
LAWS = ("linear", "tabular")
TOL = dict(tol=1e-3, n_iter_no_change=5)
DEEPGUM_VARIANTS = ("defaults", "tol", "tol, sqrt lr")
REPORT = Path(__file__).with_name("results_convergence.md")


def backbone(law: str) -> dict:
    return {"module__hidden_layer_sizes": ()} if law == "linear" else {}


def make(name: str, law: str, n: int, seed: int):
    if name == "mlp":
        return MLPRegressor(random_state=seed)
    if name == "oracle":
        return RobustNetRegressor(random_state=seed, **backbone(law))
    params = dict(random_state=seed, **backbone(law))
    if name != "defaults":
        params.update(TOL)
    if name == "tol, sqrt lr":
        params["lr"] = 1e-3 * math.sqrt(resolve_batch_size("auto", n, False) / 32)
    return DeepGUMRegressor(**params)


def run_cell(law: str, n: int, rate: float, seed: int, test) -> dict:
    data = draw(law, n, rate, seed)
    results = {}
    for name in (*DEEPGUM_VARIANTS, "mlp", "oracle"):
        model = make(name, law, n, seed)
        X, y = data.X, data.y
        if name == "oracle":
            X, y = X[~data.outlier_mask], y[~data.outlier_mask]
        if name == "mlp":
            y = np.ravel(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        error = rmse(np.ravel(model.predict(test.X)), np.ravel(test.y_noiseless))
        results[name] = dict(seconds=seconds, rmse=error, epochs=model.n_iter_)
    return results


def report_lines(args, cells: dict) -> list[str]:
    lines = [
        "# Convergence-stop ablation",
        "",
        "Command: `OMP_NUM_THREADS=1 python benchmarks/ablation_convergence.py "
        f"--sizes {' '.join(map(str, args.sizes))} "
        f"--seeds {' '.join(map(str, args.seeds))}`",
        "",
        f"Variants: `tol` = DeepGUMRegressor(tol={TOL['tol']}, "
        f"n_iter_no_change={TOL['n_iter_no_change']}); `tol, sqrt lr` adds "
        "lr = 1e-3 sqrt(batch_size_ / 32); oracle = RobustNetRegressor at its defaults "
        "on the clean rows; mlp = MLPRegressor at its defaults. Means over seeds. "
        "Targets (issue 14): DeepGUM / oracle <= 1.25 at 20 and 40 %, DeepGUM / MLP "
        "RMSE <= 1.05 on clean data, DeepGUM / MLP time <= 1 at n >= 1e4.",
        "",
        f"Environment: {platform.platform()}, python {sys.version.split()[0]}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"torch threads {torch.get_num_threads()}, date "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "| law | n | rate | method | seconds | epochs | RMSE | RMSE / oracle "
        "| RMSE / mlp | time / mlp |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (law, n, rate), runs in cells.items():
        mean = {
            name: {
                key: float(np.mean([run[name][key] for run in runs]))
                for key in ("seconds", "rmse", "epochs")
            }
            for name in runs[0]
        }
        for name, row in mean.items():
            lines.append(
                f"| {law} | {n} | {rate:g} | {name} | {row['seconds']:.2f} | "
                f"{row['epochs']:.0f} | {row['rmse']:.4g} | "
                f"{row['rmse'] / mean['oracle']['rmse']:.3f} | "
                f"{row['rmse'] / mean['mlp']['rmse']:.3f} | "
                f"{row['seconds'] / mean['mlp']['seconds']:.2f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    warm = draw("tabular", 50, 0.0, 0)
    DeepGUMRegressor(max_epochs=2, random_state=0).fit(warm.X, warm.y)
    cells = {}
    for law in LAWS:
        test = clean_test_set(law)
        for n in args.sizes:
            for rate in RATES:
                runs = [run_cell(law, n, rate, seed, test) for seed in args.seeds]
                cells[law, n, rate] = runs
                print(
                    f"{law} n={n} rate={rate:g}: "
                    + ", ".join(
                        f"{name} {np.mean([r[name]['seconds'] for r in runs]):.2f} s "
                        f"{np.mean([r[name]['rmse'] for r in runs]):.4f}"
                        for name in runs[0]
                    ),
                    flush=True,
                )
    REPORT.write_text("\n".join(report_lines(args, cells)) + "\n")
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
