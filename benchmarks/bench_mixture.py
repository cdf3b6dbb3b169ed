"""Seconds per EM iteration and peak memory: GaussianUniformMixture vs GaussianMixture.

For every n and dtype, on the same residuals: ``GUM`` (``GaussianUniformMixture``
at its defaults) and ``GM`` (``GaussianMixture``, 2 components, ``'diag'``,
``init_params='random_from_data'``, ``random_state=0``).

1. Seconds per EM iteration, initialisation excluded: the slope between fits with
   ``max_iter`` m1 and m2 (2 and 12; quick 2 and 6), ``tol=0``; ``t(m1) - m1 *
   slope`` is the fixed cost. Timed blocks of fits last ``min_block`` seconds (gc
   off), the methods interleaved over the repeats after a warm-up; reported: the
   median slope, speed-up = median(GM) / median(GUM).
2. Peak extra resident memory of one fit (``max_iter=--memory-iter``), a fresh
   process per (n, dtype, method) (:class:`_common.PeakRSS`).

Data: two columns, exactly 20 % outlier rows from U(-20, 20)^2, the rest N(0,
diag(1, 0.25)); chunks of 2**20 rows, chunk ``k`` from ``default_rng([0, k])``;
float32 is the float64 array cast. n = 1e3 ... 1e7 (memory at 1e6, 1e7), 5
repeats, the libraries' thread pools; ``--quick`` (CI, < 30 s): n <= 1e5, 3
repeats, memory at 1e5, one thread. Target: at n = 1e6 in float32, GUM at least
10 times faster per iteration. Writes ``bench_mixture_{full,quick}.{csv,png,md}``
to ``--out``; the committed ``results_mixture.md`` is the full run's::

    python benchmarks/bench_mixture.py [--quick] [--out DIR] [--threads N|default]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _common import (
    HERE,
    MIB,
    PeakRSS,
    announce_run,
    apply_threads,
    load_after,
    pyplot,
    resolve_threads,
    run_child,
    save_figure,
    timing_parser,
)
from _report import md_table, write_timing_files
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sk_deepgum import GaussianUniformMixture

SEED = 0
OUTLIER_PERCENT = 20
INLIER_SD = (1.0, 0.5)  # N(0, diag(1.0, 0.25))
UNIFORM_LOW, UNIFORM_HIGH = -20.0, 20.0
CHUNK_ROWS = 2**20
METHODS = ("GUM", "GM")
DTYPES = ("float32", "float64")
FULL = {
    "sizes": (10**3, 10**4, 10**5, 10**6, 10**7),
    "memory_sizes": (10**6, 10**7),
    "repeats": 5,
    "min_block": 0.2,
    "m2": 12,
    "threads": None,  # the libraries' own defaults
}
QUICK = {
    "sizes": (10**3, 10**4, 10**5),
    "memory_sizes": (10**5,),
    "repeats": 3,
    "min_block": 0.03,
    "m2": 6,
    "threads": 1,  # CI: immune to thread-pool contention
}
TARGET_N, TARGET_DTYPE, TARGET_SPEEDUP = 10**6, "float32", 10.0
MEMORY_SMALL_MULTIPLE = 5.0  # the memory verdict's "small multiple" of the input
MAX_NUMBER = 10_000


def make_residuals(n, dtype="float64", seed=SEED):
    """The benchmark's (n, 2) residuals (see the module docstring)."""
    X = np.empty((n, 2), dtype=dtype)
    for k, start in enumerate(range(0, n, CHUNK_ROWS)):
        stop = min(start + CHUNK_ROWS, n)
        rng = np.random.default_rng([seed, k])
        rows = stop - start
        n_out = (OUTLIER_PERCENT * stop) // 100 - (OUTLIER_PERCENT * start) // 100
        chunk = rng.standard_normal((rows, 2)) * np.asarray(INLIER_SD)
        outliers = rng.choice(rows, size=n_out, replace=False)
        chunk[outliers] = rng.uniform(UNIFORM_LOW, UNIFORM_HIGH, size=(n_out, 2))
        X[start:stop] = chunk
    return X


def make_estimator(method, max_iter):
    """Unfitted ``method`` ('GUM' or 'GM') that runs exactly ``max_iter``."""
    if method == "GUM":
        return GaussianUniformMixture(max_iter=max_iter, tol=0.0)
    if method == "GM":
        return GaussianMixture(
            n_components=2,
            covariance_type="diag",
            init_params="random_from_data",
            random_state=0,
            max_iter=max_iter,
            tol=0.0,
        )
    raise ValueError(f"unknown method {method!r}")


def fit_checked(estimator, X):
    """Fit with ConvergenceWarning silenced; fail unless all ``max_iter`` ran."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X)
    if estimator.n_iter_ != estimator.max_iter:
        raise RuntimeError(
            f"{type(estimator).__name__} ran {estimator.n_iter_} iterations, "
            f"expected max_iter={estimator.max_iter}; the timing would be wrong."
        )
    return estimator


def time_fits(method, X, max_iter, number):
    """Seconds per fit of ``number`` back-to-back fits, gc paused."""
    estimators = [make_estimator(method, max_iter) for _ in range(number)]
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for estimator in estimators:
            fit_checked(estimator, X)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed / number


def calibrate_number(method, X, m1, min_block):
    """After an untimed first fit: how many fits make a ``min_block``-second block."""
    seconds = time_fits(method, X, m1, 1)
    if seconds >= min_block:
        return 1
    seconds = time_fits(method, X, m1, 1)
    return int(min(MAX_NUMBER, math.ceil(min_block / max(seconds, 1e-9))))


def measure_cell(X, m1, m2, repeats, min_block):
    """Per method: fits per block, ``per_iter`` and ``fixed`` seconds per repeat."""
    numbers = {method: calibrate_number(method, X, m1, min_block) for method in METHODS}
    cell = {m: {"number": numbers[m], "per_iter": [], "fixed": []} for m in METHODS}
    for _ in range(repeats):
        for method in METHODS:  # GUM, GM, GUM, GM, ...
            t1 = time_fits(method, X, m1, numbers[method])
            t2 = time_fits(method, X, m2, numbers[method])
            slope = (t2 - t1) / (m2 - m1)
            cell[method]["per_iter"].append(slope)
            cell[method]["fixed"].append(t1 - m1 * slope)
    return cell


def run_timings(sizes, settings, min_block):
    """Time every (n, dtype) cell."""
    cells = {}
    for n in sizes:
        X64 = make_residuals(n, "float64")
        for dtype in DTYPES:
            X = X64.astype(dtype, copy=False)
            cells[n, dtype] = measure_cell(
                X, settings["m1"], settings["m2"], settings["repeats"], min_block
            )
            gum = np.median(cells[n, dtype]["GUM"]["per_iter"])
            gm = np.median(cells[n, dtype]["GM"]["per_iter"])
            print(
                f"  timing n={n:.0e} {dtype}: GUM {gum:.3g} s/iter, "
                f"GM {gm:.3g} s/iter, speed-up {gm / gum:.1f}x",
                flush=True,
            )
            del X
    return cells


def memory_child(method, n, dtype, max_iter, threads=None):
    """Fresh process: peak extra bytes of one fit, after an untimed 1,000-row fit."""
    apply_threads(threads)
    fit_checked(make_estimator(method, 2), make_residuals(1000, dtype))
    X = make_residuals(n, dtype)
    with PeakRSS() as peak:
        fit_checked(make_estimator(method, max_iter), X)
    return {
        "extra_bytes": peak.extra,
        "ru_maxrss_delta_bytes": peak.ru_delta,
        "input_nbytes": X.nbytes,
        "hwm_reset": peak.hwm_reset,
    }


def measure_all_memory(sizes, max_iter, threads=None):
    """Memory by (n, dtype, method), one fresh process each, one per CPU at a time."""
    keys = [(n, dtype, method) for n in sizes for dtype in DTYPES for method in METHODS]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [
            pool.submit(
                run_child, __file__, ["--memory-child", m, n, d, max_iter, threads or 0]
            )
            for n, d, m in keys
        ]
        results = dict(zip(keys, (f.result() for f in futures), strict=True))
    for (n, dtype, method), result in results.items():
        print(
            f"  memory n={n:.0e} {dtype} {method}: "
            f"{result['extra_bytes'] / MIB:.1f} MiB "
            f"({result['extra_bytes'] / result['input_nbytes']:.2f}x input)",
            flush=True,
        )
    return results


def cell_row(n, dtype, cell, memory, settings):
    """One (n, dtype) cell as a CSV/table row."""
    row = {
        "n": n,
        "dtype": dtype,
        **settings,
        "input_nbytes": n * 2 * (4 if dtype == "float32" else 8),
    }
    for method in METHODS:
        key = method.lower()
        row[f"{key}_number"] = cell[method]["number"]
        q1, median, q3 = np.percentile(cell[method]["per_iter"], [25, 50, 75])
        low = np.min(cell[method]["per_iter"])
        summary = {"median": median, "min": low, "q1": q1, "q3": q3, "iqr": q3 - q1}
        for stat, value in summary.items():
            row[f"{key}_s_per_iter_{stat}"] = float(value)
        row[f"{key}_fixed_s_median"] = float(np.median(cell[method]["fixed"]))
        row[f"{key}_s_per_iter_values"] = ";".join(
            f"{v:.6g}" for v in cell[method]["per_iter"]
        )
        mem = memory.get((n, dtype, method)) or {}
        row[f"{key}_mem_extra_bytes"] = mem.get("extra_bytes")
        row[f"{key}_mem_multiple"] = (
            mem["extra_bytes"] / mem["input_nbytes"] if mem else None
        )
        row[f"{key}_mem_ru_maxrss_delta_bytes"] = mem.get("ru_maxrss_delta_bytes")
    row["speedup_median"] = row["gm_s_per_iter_median"] / row["gum_s_per_iter_median"]
    row["speedup_min"] = row["gm_s_per_iter_min"] / row["gum_s_per_iter_min"]
    return row


def _memory_cell(row, key):
    """'MiB (x input)' for the table, or a dash where memory was not measured."""
    if row[f"{key}_mem_extra_bytes"] is None:
        return "–"
    return (
        f"{row[f'{key}_mem_extra_bytes'] / MIB:.1f} ({row[f'{key}_mem_multiple']:.2f}×)"
    )


def markdown_table(rows):
    """Main results table: seconds per iteration, speed-up and peak memory."""
    body = []
    for r in rows:
        cells = [f"{r['n']:.0e}", r["dtype"]]
        for k in ("gum", "gm"):
            cells += [f"{r[f'{k}_s_per_iter_{s}']:.3g}" for s in ("median", "min")]
            cells.append(f"{r[f'{k}_s_per_iter_iqr']:.2g}")
        cells += [f"{r['speedup_median']:.1f}×", f"{r['input_nbytes'] / MIB:.3g}"]
        body.append([*cells, _memory_cell(r, "gum"), _memory_cell(r, "gm")])
    head = (
        "n | dtype | GUM s/iter (median) | GUM min | GUM IQR | GM s/iter (median)"
        " | GM min | GM IQR | speed-up GM/GUM | input MiB"
        " | GUM peak extra MiB (× input) | GM peak extra MiB (× input)"
    )
    return "\n".join(md_table(head, body, align="rl" + "r" * 10))


def fixed_cost_table(rows):
    """Secondary table: fixed seconds per fit, median of t(m1) - m1 * slope."""
    body = [
        (f"{r['n']:.0e}", r["dtype"], f"{r['gum_fixed_s_median']:.3g}")
        + (f"{r['gm_fixed_s_median']:.3g}", f"{r['gum_number']} / {r['gm_number']}")
        for r in rows
    ]
    head = "n | dtype | GUM fixed s/fit | GM fixed s/fit | fits per block GUM / GM"
    return "\n".join(md_table(head, body, align="rlrrr"))


def verdict(rows):
    """Lines on the n=1e6 float32 target and on losing cells."""
    by_cell = {(r["n"], r["dtype"]): r for r in rows}
    target = by_cell.get((TARGET_N, TARGET_DTYPE))
    claim = (
        f"TARGET (n={TARGET_N:.0e} {TARGET_DTYPE}, GUM >= {TARGET_SPEEDUP:g}x "
        "faster per iteration): "
    )
    if target is None:
        lines = [
            claim + "NOT EVALUATED, that size is not in this run (run without --quick)."
        ]
    else:
        ratio = target["speedup_median"]
        state = "MET" if ratio >= TARGET_SPEEDUP else "NOT MET"
        lines = [
            claim + f"{state}, measured speed-up {ratio:.1f}x "
            f"(from the per-repeat minima: {target['speedup_min']:.1f}x)."
        ]
        other = by_cell.get((TARGET_N, "float64"))
        if other is not None:
            lines.append(
                f"At n={TARGET_N:.0e} float64: speed-up {other['speedup_median']:.1f}x."
            )
        if target["gum_mem_multiple"] is None:
            lines.append("Memory at the target cell: not measured.")
        else:
            multiple = target["gum_mem_multiple"]
            small = "yes" if multiple <= MEMORY_SMALL_MULTIPLE else "NO"
            lines.append(
                f"Memory at n={TARGET_N:.0e} {TARGET_DTYPE}: GUM peak extra "
                f"{target['gum_mem_extra_bytes'] / MIB:.1f} MiB = {multiple:.2f}x the "
                f"input (GM: {target['gm_mem_multiple']:.2f}x); small multiple "
                f"(<= {MEMORY_SMALL_MULTIPLE:g}x): {small}."
            )
    losing = [r for r in rows if r["speedup_median"] < 1.0]
    for r in losing:
        lines.append(
            f"GUM is SLOWER per iteration at n={r['n']:.0e} {r['dtype']}: "
            f"speed-up {r['speedup_median']:.2f}x."
        )
    if not losing:
        lines.append("GUM is faster per iteration in every measured cell.")
    return lines


def write_plot(rows, path):
    """Seconds per iteration vs n (log-log) and speed-up vs n, as a PNG."""
    fig, (ax_time, ax_speed) = pyplot().subplots(1, 2, figsize=(12, 4.8))
    for dtype, style in zip(DTYPES, ("-", "--"), strict=True):
        sub = [r for r in rows if r["dtype"] == dtype]
        ns = [r["n"] for r in sub]
        for method, color in zip(METHODS, ("tab:blue", "tab:orange"), strict=True):
            key = method.lower()
            median = np.array([r[f"{key}_s_per_iter_median"] for r in sub])
            low = median - [r[f"{key}_s_per_iter_q1"] for r in sub]
            high = np.array([r[f"{key}_s_per_iter_q3"] for r in sub]) - median
            ax_time.errorbar(
                ns,
                median,
                yerr=[np.maximum(low, 0), np.maximum(high, 0)],
                fmt="o" + style,
                color=color,
                capsize=3,
                label=f"{method} {dtype}",
            )
        ax_speed.plot(ns, [r["speedup_median"] for r in sub], "o" + style, label=dtype)
    target = f"target {TARGET_SPEEDUP:g}x"
    ax_speed.axhline(TARGET_SPEEDUP, color="grey", ls=":", label=target)
    ax_speed.axhline(1.0, color="red", ls=":", lw=0.8, label="parity")
    ax_time.set_ylabel("seconds per EM iteration (median, IQR bars)")
    ax_speed.set_ylabel("speed-up GM / GUM per iteration")
    for ax in (ax_time, ax_speed):
        ax.set(xscale="log", yscale="log", xlabel="n (rows)")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        "GaussianUniformMixture vs GaussianMixture(2, 'diag'): one EM iteration"
    )
    save_figure(fig, path, dpi=120)


def parse_args(argv=None):
    """Command-line options (``--memory-child`` is internal)."""
    parser = timing_parser(
        __doc__, "n <= 1e5, 3 repeats, memory at 1e5", HERE / "results" / "mixture"
    )
    parser.add_argument("--repeats", type=int, help="repeats per cell (5, quick 3)")
    parser.add_argument("--m1", type=int, default=2, help="short fit's max_iter")
    parser.add_argument("--m2", type=int, help="long fit's max_iter (12, quick 6)")
    parser.add_argument(
        "--memory-iter", type=int, default=3, help="max_iter of the memory fit"
    )
    child = ("METHOD", "N", "DTYPE", "MAX_ITER", "THREADS")
    parser.add_argument(
        "--memory-child", nargs=5, metavar=child, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.m2 is None:
        args.m2 = mode["m2"]
    if not 1 <= args.m1 < args.m2:
        parser.error("need 1 <= --m1 < --m2")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    args.threads = resolve_threads(parser, args.threads, mode["threads"])
    return args


def main(argv=None):
    """Run the benchmark, print the results and write CSV, PNG and markdown."""
    args = parse_args(argv)
    if args.memory_child is not None:
        method, n, dtype, max_iter, threads = args.memory_child
        print(
            json.dumps(
                memory_child(method, int(n), dtype, int(max_iter), int(threads) or None)
            )
        )
        return
    apply_threads(args.threads)
    mode = QUICK if args.quick else FULL
    settings = {
        "mode": "quick" if args.quick else "full",
        "m1": args.m1,
        "m2": args.m2,
        "repeats": args.repeats or mode["repeats"],
        "min_block_s": mode["min_block"],
        "memory_max_iter": args.memory_iter,
        "threads": args.threads or "library defaults",
    }
    command, env = announce_run(settings)
    start = time.perf_counter()
    print("Memory (fresh process per entry):", flush=True)
    memory = measure_all_memory(mode["memory_sizes"], args.memory_iter, args.threads)
    print("Timing (seconds per EM iteration):", flush=True)
    cells = run_timings(mode["sizes"], settings, mode["min_block"])
    rows = [cell_row(n, d, cell, memory, settings) for (n, d), cell in cells.items()]
    notes = load_after(env, args.threads)
    table, fixed, lines = markdown_table(rows), fixed_cost_table(rows), verdict(rows)
    lines += notes
    print(f"\n{table}\n\nFixed cost per fit:\n\n{fixed}\n\n" + "\n".join(lines))
    intro = (
        "Seconds per iteration = (t(m2) - t(m1)) / (m2 - m1), median over repeats "
        "(methods interleaved); speed-up = median GM / median GUM. Peak extra memory: "
        "VmHWM during one fit minus VmRSS before it, fresh process per entry. See the "
        "docstring of benchmarks/bench_mixture.py for the data law and method."
    )
    parts = [("## Results", table), ("### Fixed cost per fit", fixed)]
    parts.append(("## Verdict", "\n".join(f"- {line}" for line in lines)))
    title = "GaussianUniformMixture vs GaussianMixture: seconds per EM iteration"
    stem, run = f"bench_mixture_{settings['mode']}", (command, env, settings)
    write_timing_files(
        args.out, stem, rows, write_plot, start, title, run, intro, parts
    )


if __name__ == "__main__":
    sys.exit(main())
