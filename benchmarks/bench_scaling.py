"""Fit time and peak memory of DeepGUMRegressor against the number of rows.

For every n, a fresh process (one at a time) fits ``DeepGUMRegressor`` on 500 rows
untimed, then on n rows inside :class:`_common.PeakRSS` with a small fixed
schedule (``max_epochs=3``: one L2 warm-up epoch, two EM rounds), the default MLP,
``batch_size=256``, ``random_state=0``, ``device=--device``: seconds, phases from
``fit_seconds_`` (EM, residual passes, SGD, other) and peak extra resident memory
(with cuda also ``torch.cuda.max_memory_allocated``). ``--repeats`` per size:
median times, largest memory, log-log slopes between sizes (1.0 = linear).

Data: ``make_contaminated_regression(n, n_features=10, n_targets=2,
outlier_rate=0.2, outlier_kind='uniform', noise=0.1, random_state=0)``; n = 1e3
... 1e6, 3 repeats; ``--quick`` (CI): n = 1e3, 1e4, 2 repeats, one thread.

A second table isolates the EM's working memory: ``fit_gum`` alone, 10 iterations
(``tol=0``) on a float32 feature-major buffer of 8 x 1e6 (quick 2e5) values, in
the :data:`EM_CONFIGS`, with the default row chunks and with one chunk, each in a
fresh process with ``MALLOC_MMAP_THRESHOLD_=131072`` (freed blocks go back at
once, so the high-water mark is what the EM needs).

Writes ``bench_scaling_{full,quick}.{csv,png,md}`` to ``--out``; the committed
``results_scaling.md`` is the full run's::

    python benchmarks/bench_scaling.py [--quick] [--out DIR] [--threads N|default]
        [--device cpu|cuda] [--repeats R] [--sizes 1000 10000 ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
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

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import make_contaminated_regression

N_FEATURES, N_TARGETS = 10, 2
OUTLIER_RATE, NOISE, SEED = 0.2, 0.1, 0
ESTIMATOR = dict(
    max_epochs=3, warm_up_epochs=1, epochs_per_round=1, batch_size=256, random_state=0
)
FULL = {"sizes": (10**3, 10**4, 10**5, 10**6), "repeats": 3, "threads": None}
QUICK = {"sizes": (10**3, 10**4), "repeats": 2, "threads": 1}
WARM_UP_ROWS = 500
PARTS = ("em", "residual_pass", "sgd")  # keys of fit_seconds_
EM_COLUMNS, EM_ITERATIONS = 8, 10
EM_ROWS = {"full": 10**6, "quick": 2 * 10**5}  # both above EM_CHUNK_ROWS
#: fit_gum keyword arguments of each EM-memory configuration.
EM_CONFIGS = {
    "diag": {"covariance_type": "diag"},
    "diag, groups='each', df=5": {
        "covariance_type": "diag",
        "groups": "each",
        "df": 5.0,
    },
    "full, fit_mean": {"covariance_type": "full", "fit_mean": True},
    "full, 4 pairs, weighted": {
        "covariance_type": "full",
        "groups": [[0, 1], [2, 3], [4, 5], [6, 7]],
        "weighted": True,
    },
}
EM_CHUNKINGS = ("chunked", "whole")


def make_data(n):
    """The benchmark's data: X (n, 10), y (n, 2), float64."""
    X, y, _ = make_contaminated_regression(
        n,
        N_FEATURES,
        N_TARGETS,
        outlier_rate=OUTLIER_RATE,
        outlier_kind="uniform",
        noise=NOISE,
        random_state=SEED,
    )
    return X, y


def child(n, device, threads):
    """Fresh process: seconds (total, per phase), epochs, EM iterations, peak extra
    memory of one fit."""
    apply_threads(threads)
    X, y = make_data(WARM_UP_ROWS)
    DeepGUMRegressor(**ESTIMATOR, device=device).fit(X, y)
    X, y = make_data(n)
    estimator = DeepGUMRegressor(**ESTIMATOR, device=device)
    cuda = torch.device(device).type == "cuda"
    with PeakRSS() as peak:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        start = time.perf_counter()
        estimator.fit(X, y)
        if cuda:
            torch.cuda.synchronize()
        fit_s = time.perf_counter() - start
    parts = {f"{part}_s": estimator.fit_seconds_[part] for part in PARTS}
    result = {
        "fit_s": fit_s,
        **parts,
        "other_s": fit_s - sum(parts.values()),
        "epochs": estimator.n_iter_,
        "em_iterations": sum(r["em_iterations"] for r in estimator.history_),
        "extra_bytes": peak.extra,
        "ru_maxrss_delta_bytes": peak.ru_delta,
        "input_nbytes": X.nbytes + y.nbytes,
        "hwm_reset": peak.hwm_reset,
    }
    if cuda:
        result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated()
    return result


def em_child(config: str, n: int, chunking: str, threads):
    """Fresh process: peak extra memory and seconds of ``fit_gum`` alone."""
    from sk_deepgum.mixture import check_groups, fit_gum, make_grouping

    apply_threads(threads)
    options = dict(EM_CONFIGS[config])
    groups = options.pop("groups", None)
    weighted = options.pop("weighted", False)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((EM_COLUMNS, n)).astype(np.float32)
    wrong = rng.random(n) < 0.2
    data[:, wrong] = rng.uniform(-20, 20, (EM_COLUMNS, int(wrong.sum())))
    XT = torch.from_numpy(data)
    weights = None
    if weighted:
        weights = torch.from_numpy(rng.uniform(0.5, 2.0, n).astype(np.float32))
    grouping = make_grouping(check_groups(groups, EM_COLUMNS))
    chunk_size = n if chunking == "whole" else None
    small = None if weights is None else weights[:1000].contiguous()
    fit_gum(XT[:, :1000].contiguous(), small, grouping, max_iter=2, **options)
    with PeakRSS() as peak:
        start = time.perf_counter()
        result = fit_gum(
            XT,
            weights,
            grouping,
            max_iter=EM_ITERATIONS,
            tol=0.0,
            chunk_size=chunk_size,
            **options,
        )
        seconds = time.perf_counter() - start
    return {
        "extra_bytes": peak.extra if peak.hwm_reset else None,
        "seconds": seconds,
        "buffer_bytes": XT.numel() * XT.element_size(),
        "n_iter": result.n_iter,
        "hwm_reset": peak.hwm_reset,
    }


def em_memory_table(n: int, threads) -> tuple[str, list[dict]]:
    """Every EM configuration both ways: the markdown and the rows."""
    rows = []
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    for config in EM_CONFIGS:
        runs = {
            c: run_child(__file__, ["--em-child", config, n, c, threads or 0], env)
            for c in EM_CHUNKINGS
        }
        rows.append({"config": config, "n": n, **runs})
        chunked, whole = runs["chunked"], runs["whole"]
        print(
            f"  EM {config}: whole buffer {_mib(whole['extra_bytes'])} MiB "
            f"{whole['seconds']:.3g} s, chunked {_mib(chunked['extra_bytes'])} MiB "
            f"{chunked['seconds']:.3g} s",
            flush=True,
        )
    body = []
    for row in rows:
        chunked, whole = row["chunked"], row["whole"]
        ratio = "n/a"
        if chunked["extra_bytes"] and whole["extra_bytes"] is not None:
            ratio = f"{whole['extra_bytes'] / chunked['extra_bytes']:.1f}x"
        body.append(
            (row["config"], _mib(whole["extra_bytes"]), _mib(chunked["extra_bytes"]))
            + (ratio, f"{whole['seconds']:.3g}", f"{chunked['seconds']:.3g}")
        )
    buffer = rows[0]["chunked"]["buffer_bytes"]
    lines = [
        f"fit_gum alone, {EM_ITERATIONS} iterations on a float32 buffer of "
        f"{EM_COLUMNS} x {n:.0e} ({buffer / MIB:.1f} MiB); peak extra RSS with "
        "MALLOC_MMAP_THRESHOLD_=131072, one fresh process per cell.",
        "",
        *md_table(
            "configuration | whole buffer: peak (MiB) | chunked: peak (MiB) | "
            "whole / chunked | whole buffer (s) | chunked (s)",
            body,
            align="lrrrrr",
        ),
    ]
    return "\n".join(lines), rows


def _mib(value) -> str:
    return "n/a" if value is None else f"{value / MIB:.1f}"


def size_row(n, runs, settings):
    """One row per size: median times, largest memory, all runs."""

    def median(key):
        return float(np.median([r[key] for r in runs]))

    extra = max(r["extra_bytes"] for r in runs)
    row = {
        "n": n,
        **settings,
        "fit_s": median("fit_s"),
        **{f"{part}_s": median(f"{part}_s") for part in (*PARTS, "other")},
        "em_share": median("em_s") / median("fit_s"),
        "us_per_row": 1e6 * median("fit_s") / n,
        "epochs": runs[0]["epochs"],
        "em_iterations": median("em_iterations"),
        "peak_extra_mib": extra / MIB,
        "peak_extra_bytes_per_row": extra / n,
        "peak_extra_x_input": extra / runs[0]["input_nbytes"],
        "input_mib": runs[0]["input_nbytes"] / MIB,
        "hwm_reset": all(r["hwm_reset"] for r in runs),
        "fit_s_all": json.dumps([round(r["fit_s"], 4) for r in runs]),
        "em_s_all": json.dumps([round(r["em_s"], 4) for r in runs]),
        "extra_bytes_all": json.dumps([r["extra_bytes"] for r in runs]),
    }
    if "cuda_peak_bytes" in runs[0]:
        row["cuda_peak_mib"] = max(r["cuda_peak_bytes"] for r in runs) / MIB
    return row


def add_slopes(rows):
    """Log-log slopes of fit time and peak memory from the previous size."""
    for previous, row in zip(rows, rows[1:], strict=False):
        step = math.log(row["n"] / previous["n"])
        row["time_slope"] = math.log(row["fit_s"] / previous["fit_s"]) / step
        if row["peak_extra_mib"] > 0 and previous["peak_extra_mib"] > 0:
            ratio = row["peak_extra_mib"] / previous["peak_extra_mib"]
            row["memory_slope"] = math.log(ratio) / step
    return rows


def _fmt(value, spec):
    return "–" if value is None else format(value, spec)


def markdown_table(rows):
    """Markdown table of the per-size results."""
    body = [
        (f"{r['n']:.0e}", f"{r['fit_s']:.3g}", f"{r['us_per_row']:.3g}")
        + (_fmt(r.get("time_slope"), ".2f"), f"{r['em_s']:.3g}")
        + (f"{100 * r['em_share']:.1f} %", f"{r['residual_pass_s']:.3g}")
        + (f"{r['sgd_s']:.3g}", f"{r['other_s']:.3g}", f"{r['peak_extra_mib']:.1f}")
        + (f"{r['peak_extra_bytes_per_row']:.0f}", f"{r['peak_extra_x_input']:.2f}")
        + (_fmt(r.get("memory_slope"), ".2f"),)
        for r in rows
    ]
    head = (
        "n | fit (s) | µs/row | time slope | EM (s) | EM share | residual passes (s)"
        " | SGD (s) | other (s) | peak extra RSS (MiB) | bytes/row | × input"
        " | memory slope"
    )
    return "\n".join(md_table(head, body, align="r" * 13))


def verdict(rows):
    """Measured statements about growth and the share of EM."""
    lines = []
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        span = math.log(last["n"] / first["n"])
        slope = math.log(last["fit_s"] / first["fit_s"]) / span
        lines.append(
            f"Fit time from n={first['n']:.0e} to n={last['n']:.0e}: log-log slope "
            f"{slope:.2f} (1.00 = linear); last step {last['time_slope']:.2f}."
        )
        if "memory_slope" in last:
            lines.append(
                f"Peak extra memory, last step: log-log slope "
                f"{last['memory_slope']:.2f}; {last['peak_extra_bytes_per_row']:.0f} "
                f"bytes per row at n={last['n']:.0e} "
                f"({last['peak_extra_x_input']:.2f}x the input arrays)."
            )
    shares = ", ".join(f"{100 * r['em_share']:.1f} % at {r['n']:.0e}" for r in rows)
    lines.append(f"Share of the fit spent in EM (incl. E-steps): {shares}.")
    return lines


def write_plot(rows, path):
    """Fit time and peak memory vs n (log-log), and the EM share vs n."""
    n = np.array([r["n"] for r in rows], dtype=float)
    fig, axes = pyplot().subplots(1, 3, figsize=(13, 3.8))
    ax = axes[0]
    ax.loglog(n, [r["fit_s"] for r in rows], "o-", label="fit")
    for part in PARTS:
        ax.loglog(n, [max(r[f"{part}_s"], 1e-6) for r in rows], ".--", label=part)
    ax.loglog(n, rows[0]["fit_s"] * n / n[0], ":", color="grey", label="linear")
    ax.set(xlabel="rows n", ylabel="seconds", title="Fit time")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.loglog(n, [max(r["peak_extra_mib"], 1e-3) for r in rows], "o-", label="peak")
    ax.loglog(n, [r["input_mib"] for r in rows], ".--", label="input X, y")
    ax.set(xlabel="rows n", ylabel="MiB", title="Peak extra resident memory")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.semilogx(n, [100 * r["em_share"] for r in rows], "o-")
    ax.set(xlabel="rows n", ylabel="% of fit time", title="Share of EM")
    ax.set_ylim(bottom=0)
    fig.suptitle("DeepGUMRegressor: scaling with the number of rows")
    save_figure(fig, path, dpi=120)


def parse_args(argv=None):
    """Command-line options (``--child`` and ``--em-child`` are internal)."""
    quick = "n = 1e3, 1e4, 2 repeats"
    parser = timing_parser(__doc__, quick, HERE / "results" / "scaling")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, help="fits per size (3, quick 2)")
    parser.add_argument("--device", default="cpu", help="'cpu' (default) or 'cuda'")
    hidden = {"help": argparse.SUPPRESS}
    parser.add_argument(
        "--child", nargs=3, metavar=("N", "DEVICE", "THREADS"), **hidden
    )
    em_child = ("CONFIG", "N", "CHUNKING", "THREADS")
    parser.add_argument("--em-child", nargs=4, metavar=em_child, **hidden)
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.sizes is None:
        args.sizes = mode["sizes"]
    if min(args.sizes) < 10:
        parser.error("--sizes must be at least 10 rows")
    if args.repeats is None:
        args.repeats = mode["repeats"]
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    args.threads = resolve_threads(parser, args.threads, mode["threads"])
    return args


def main(argv=None):
    """Run the benchmark, print the results and write CSV, PNG and markdown."""
    args = parse_args(argv)
    if args.child is not None:
        n, device, threads = args.child
        print(json.dumps(child(int(n), device, int(threads) or None)))
        return
    if args.em_child is not None:
        config, n, chunking, threads = args.em_child
        print(json.dumps(em_child(config, int(n), chunking, int(threads) or None)))
        return
    apply_threads(args.threads)
    estimator = ", ".join(f"{k}={v!r}" for k, v in ESTIMATOR.items())
    settings = {
        "mode": "quick" if args.quick else "full",
        "repeats": args.repeats,
        "device": args.device,
        "threads": args.threads or "library defaults",
        "estimator": f"DeepGUMRegressor({estimator})",
    }
    command, env = announce_run(settings)
    start = time.perf_counter()
    rows = []
    for n in sorted(args.sizes):
        runs = []
        for _ in range(args.repeats):
            r = run_child(__file__, ["--child", n, args.device, args.threads or 0])
            runs.append(r)
            print(
                f"  n={n:.0e}: fit {r['fit_s']:.3g} s (EM {r['em_s']:.3g} s, "
                f"residual passes {r['residual_pass_s']:.3g} s, SGD {r['sgd_s']:.3g} "
                f"s), peak extra {r['extra_bytes'] / MIB:.1f} MiB",
                flush=True,
            )
        rows.append(size_row(n, runs, {"device": args.device}))
    add_slopes(rows)
    notes = load_after(env, args.threads)
    table, lines = markdown_table(rows), verdict(rows) + notes
    print(f"\n{table}\n\n" + "\n".join(lines))
    print("\nEM working memory, chunked vs whole buffer:", flush=True)
    em_table, _ = em_memory_table(EM_ROWS[settings["mode"]], args.threads)
    print(f"\n{em_table}\n")
    intro = (
        "Fit time: median over fresh processes; EM = fit_gum + estimate_inlier_logit "
        "calls; peak extra RSS = VmHWM during the fit minus VmRSS before it, largest "
        "over repeats; slope = log-log slope from the previous size (1 = linear). "
        "See the docstring of benchmarks/bench_scaling.py for the data law and "
        "method."
    )
    parts = [("## Results", table)]
    parts.append(("## Verdict", "\n".join(f"- {line}" for line in lines)))
    parts.append(("## EM working memory: chunked vs whole buffer", em_table))
    title = "DeepGUMRegressor: fit time and peak memory vs rows"
    stem, run = f"bench_scaling_{settings['mode']}", (command, env, settings)
    write_timing_files(
        args.out, stem, rows, write_plot, start, title, run, intro, parts
    )


if __name__ == "__main__":
    sys.exit(main())
