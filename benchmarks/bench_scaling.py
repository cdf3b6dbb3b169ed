"""Fit time and peak memory of DeepGUMRegressor against the number of rows.

What it measures
----------------
For every sample size ``n`` (tabular rows), :class:`sk_deepgum.DeepGUMRegressor`
is fitted with a fixed, small schedule (``max_epochs=3``: one warm-up epoch of L2,
then two rounds of [residual pass, EM, one SGD epoch], then the final residual pass
and E-step), the default MLP backbone (64, 64), ``batch_size=256``,
``random_state=0`` and ``device=--device`` (default 'cpu'). Each fit runs in a fresh
Python process (one at a time, so fits do not share the CPUs), which:

1. imports everything and fits once on 500 rows, untimed, so lazy library
   initialisation is charged to no size;
2. builds the data, releases freed heap memory (glibc ``malloc_trim``) and reads
   ``VmRSS``, then resets the kernel's resident-memory high-water mark
   (``/proc/self/clear_refs``);
3. fits once, timing the whole ``fit`` and, by wrapping the functions the fit calls
   (instrumentation only; nothing in the package is changed), the time spent in

   * **EM**: every call of ``fit_gum`` and ``estimate_inlier_logit`` (the EM
     iterations and the E-steps that turn residuals into loss weights and scores);
   * **residual passes**: every no-grad forward over the training set
     (``FitState.residuals``);
   * **SGD**: the training epochs (``NetRegressorBase._train_epochs``);
   * **other**: the rest (validation, robust target scaling, copies to the device,
     building the net);

4. reads ``VmHWM``: the fit's peak extra resident memory is ``VmHWM - VmRSS``, also
   given per row and as a multiple of the input arrays' ``nbytes`` (X and y). With
   ``--device cuda`` the CUDA peak (``torch.cuda.max_memory_allocated``) is recorded
   too.

Each size is run ``--repeats`` times (fresh process each); the table reports the
median fit time and its parts and the largest peak memory. Linear growth is read
from the log-log slope of fit time (and of peak memory) between consecutive sizes:
1.0 is linear.

Data law
--------
``sk_deepgum.datasets.make_contaminated_regression(n, n_features=10, n_targets=2,
outlier_rate=0.2, outlier_kind='uniform', noise=0.1, random_state=0)`` (float64;
its docstring gives the exact law): a nonlinear function of 10 uniform features,
two targets, 20 % of the rows with their targets replaced by uniform draws.

Sizes: n = 1e3, 1e4, 1e5, 1e6, 3 repeats. ``--quick`` (CI smoke run): n = 1e3 and
1e4, 2 repeats, one thread per pool.

EM working memory: chunked versus whole buffer
----------------------------------------------
A second table isolates the EM: :func:`sk_deepgum.mixture.fit_gum` alone, 10
iterations (``tol=0``), on a feature-major float32 buffer of D = 8 columns and n =
1e6 rows (``--quick``: 2e5; both above the chunk size) of residual-like data
(standard normal, 20 % of the rows replaced by ``U(-20, 20)``, ``default_rng(0)``),
in four configurations (diag; one latent per column with a Student-t inlier; full
covariance with a fitted mean; full covariance on 4 column pairs with sample
weights). Each configuration runs twice, each time in a fresh process: with the
default row chunks (``chunk_size=None``, ``EM_CHUNK_ROWS`` rows) and with
``chunk_size=n`` (one chunk: the whole buffer at once, what the EM did before it was
chunked). The peak extra resident memory of the call (``VmHWM - VmRSS``, as above)
is read after a small untimed warm-up fit. The children run with
``MALLOC_MMAP_THRESHOLD_=131072`` so that glibc returns freed large blocks to the
system at once: with its default, freed arrays linger in the heap and the high-water
mark depends on allocation history rather than on what the EM needs. Reported: both
peaks, their ratio, both times.

Threading
---------
As in ``bench_mixture.py``: the full run keeps the libraries' default thread pools;
``--quick`` limits every pool to one thread; ``--threads N|default`` overrides. The
environment (CPU, load average, measured CPU parallelism before and after, thread
pools, versions) is printed and written with the results: timings taken while other
processes load the machine are inflated, and the report says so.

Outputs
-------
The environment and a markdown table are printed; ``bench_scaling_{full,quick}.csv``
(one row per size, every number, every repeat), ``.png`` (fit time and peak memory
vs n, log-log, and the share of EM) and ``.md`` (table, command, environment, date)
are written to ``--out``. Everything printed is measured, never assumed.

How to run
----------
::

    python benchmarks/bench_scaling.py [--quick] [--out DIR] [--threads N|default]
        [--device cpu|cuda] [--repeats R] [--sizes 1000 10000 ...]
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bench_mixture import (
    MIB,
    _proc_status_kib,
    _release_free_memory,
    _reset_peak_rss,
    _ru_maxrss_bytes,
    add_threads_argument,
    announce_run,
    apply_threads,
    markdown_header,
    parallelism_warning,
    record_load_after,
    resolve_threads,
)

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import make_contaminated_regression

N_FEATURES, N_TARGETS = 10, 2
OUTLIER_RATE, NOISE, SEED = 0.2, 0.1, 0
ESTIMATOR = dict(
    max_epochs=3,
    warm_up_epochs=1,
    epochs_per_round=1,
    batch_size=256,
    random_state=0,
)
FULL = {"sizes": (10**3, 10**4, 10**5, 10**6), "repeats": 3, "threads": None}
QUICK = {"sizes": (10**3, 10**4), "repeats": 2, "threads": 1}
WARM_UP_ROWS = 500
PARTS = ("em", "residual_pass", "sgd")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "scaling"
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


# ---------------------------------------------------------------------------
# One fit, in a fresh process


def make_data(n):
    """The benchmark's data (see Data law): X (n, 10), y (n, 2), float64."""
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


class _Timers:
    """Seconds accumulated per part of the fit, by wrapping the functions it calls.

    The wrappers synchronise CUDA around each call so that asynchronous kernels are
    charged to the part that launched them.
    """

    def __init__(self, device):
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.cuda = torch.device(device).type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def wrap(self, part, function):
        def timed(*args, **kwargs):
            self.sync()
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.sync()
                self.seconds[part] += time.perf_counter() - start

        return timed

    def install(self):
        """Wrap the fit's EM, residual-pass and SGD entry points; return an undo."""
        import sk_deepgum._base as base
        import sk_deepgum._training as training
        import sk_deepgum.regressor as regressor

        targets = [
            (regressor, "fit_gum", "em"),
            (regressor, "estimate_inlier_logit", "em"),
            (training.FitState, "residuals", "residual_pass"),
            (base.NetRegressorBase, "_train_epochs", "sgd"),
        ]
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
        for owner, name, part in targets:
            setattr(owner, name, self.wrap(part, getattr(owner, name)))

        def undo():
            for owner, name, original in originals:
                setattr(owner, name, original)

        return undo


def child(n, device, threads):
    """Body of the fresh process: time and peak extra memory of one fit.

    Returns
    -------
    result : dict
        ``fit_s``, seconds per part (``em_s``, ``residual_pass_s``, ``sgd_s``,
        ``other_s``), ``em_iterations``, ``extra_bytes`` (VmHWM - VmRSS, or the
        ru_maxrss delta without ``/proc``), ``input_nbytes``, ``hwm_reset`` and,
        on CUDA, ``cuda_peak_bytes``.
    """
    apply_threads(threads)
    X, y = make_data(WARM_UP_ROWS)
    DeepGUMRegressor(**ESTIMATOR, device=device).fit(X, y)
    X, y = make_data(n)
    estimator = DeepGUMRegressor(**ESTIMATOR, device=device)
    timers = _Timers(device)
    undo = timers.install()
    gc.collect()
    _release_free_memory()
    if timers.cuda:
        torch.cuda.reset_peak_memory_stats()
    rss_before, ru_before = _proc_status_kib("VmRSS"), _ru_maxrss_bytes()
    hwm_reset = _reset_peak_rss()
    timers.sync()
    start = time.perf_counter()
    estimator.fit(X, y)
    timers.sync()
    fit_s = time.perf_counter() - start
    ru_delta = _ru_maxrss_bytes() - ru_before
    undo()
    if hwm_reset and rss_before is not None:
        extra = (_proc_status_kib("VmHWM") - rss_before) * 1024
    else:
        extra = ru_delta
    parts = {f"{part}_s": timers.seconds[part] for part in PARTS}
    result = {
        "fit_s": fit_s,
        **parts,
        "other_s": fit_s - sum(parts.values()),
        "epochs": estimator.n_iter_,
        "em_iterations": sum(r["em_iterations"] for r in estimator.history_),
        "extra_bytes": extra,
        "ru_maxrss_delta_bytes": ru_delta,
        "input_nbytes": X.nbytes + y.nbytes,
        "hwm_reset": hwm_reset,
    }
    if timers.cuda:
        result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated()
    return result


def run_child(n, device, threads):
    """Run :func:`child` in a fresh interpreter and return its result dict."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(n),
        device,
        str(threads or 0),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child {shlex.join(command)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def em_child(config: str, n: int, chunking: str, threads):
    """Body of the fresh process: peak extra memory and time of ``fit_gum`` alone.

    Returns
    -------
    result : dict
        ``extra_bytes`` (VmHWM - VmRSS around the call), ``seconds``,
        ``buffer_bytes``, ``n_iter`` and ``hwm_reset``.
    """
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
    gc.collect()
    _release_free_memory()
    rss_before = _proc_status_kib("VmRSS")
    hwm_reset = _reset_peak_rss()
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
    extra = None
    if hwm_reset and rss_before is not None:
        extra = (_proc_status_kib("VmHWM") - rss_before) * 1024
    return {
        "extra_bytes": extra,
        "seconds": seconds,
        "buffer_bytes": XT.numel() * XT.element_size(),
        "n_iter": result.n_iter,
        "hwm_reset": hwm_reset,
    }


def run_em_child(config: str, n: int, chunking: str, threads):
    """Run :func:`em_child` in a fresh interpreter (glibc returning freed blocks)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--em-child",
        config,
        str(n),
        chunking,
        str(threads or 0),
    ]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {shlex.join(command)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def em_memory_table(n: int, threads) -> tuple[str, list[dict]]:
    """Measure every EM configuration both ways; return the markdown and the rows."""
    rows = []
    for config in EM_CONFIGS:
        runs = {c: run_em_child(config, n, c, threads) for c in EM_CHUNKINGS}
        rows.append({"config": config, "n": n, **runs})
        chunked, whole = runs["chunked"], runs["whole"]
        print(
            f"  EM {config}: whole buffer {_mib(whole['extra_bytes'])} MiB "
            f"{whole['seconds']:.3g} s, chunked {_mib(chunked['extra_bytes'])} MiB "
            f"{chunked['seconds']:.3g} s",
            flush=True,
        )
    buffer = rows[0]["chunked"]["buffer_bytes"]
    lines = [
        f"fit_gum alone, {EM_ITERATIONS} iterations on a float32 buffer of "
        f"{EM_COLUMNS} x {n:.0e} ({buffer / MIB:.1f} MiB); peak extra RSS with "
        "MALLOC_MMAP_THRESHOLD_=131072, one fresh process per cell.",
        "",
        "| configuration | whole buffer: peak (MiB) | chunked: peak (MiB) | "
        "whole / chunked | whole buffer (s) | chunked (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        chunked, whole = row["chunked"], row["whole"]
        ratio = "n/a"
        if chunked["extra_bytes"] and whole["extra_bytes"] is not None:
            ratio = f"{whole['extra_bytes'] / chunked['extra_bytes']:.1f}x"
        lines.append(
            f"| {row['config']} | {_mib(whole['extra_bytes'])} | "
            f"{_mib(chunked['extra_bytes'])} | {ratio} | {whole['seconds']:.3g} | "
            f"{chunked['seconds']:.3g} |"
        )
    return "\n".join(lines), rows


def _mib(value) -> str:
    return "n/a" if value is None else f"{value / MIB:.1f}"


# ---------------------------------------------------------------------------
# Results


def size_row(n, runs, settings):
    """One CSV/table row per size: medians of the times, largest memory, all runs."""

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
    """Log-log slope of fit time and peak memory from the previous size (1 = linear)."""
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
    lines = [
        "| n | fit (s) | µs/row | time slope | EM (s) | EM share | residual "
        "passes (s) | SGD (s) | other (s) | peak extra RSS (MiB) | bytes/row | "
        "× input | memory slope |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:.0e} | {r['fit_s']:.3g} | {r['us_per_row']:.3g} | "
            f"{_fmt(r.get('time_slope'), '.2f')} | {r['em_s']:.3g} | "
            f"{100 * r['em_share']:.1f} % | {r['residual_pass_s']:.3g} | "
            f"{r['sgd_s']:.3g} | {r['other_s']:.3g} | {r['peak_extra_mib']:.1f} | "
            f"{r['peak_extra_bytes_per_row']:.0f} | {r['peak_extra_x_input']:.2f} | "
            f"{_fmt(r.get('memory_slope'), '.2f')} |"
        )
    return "\n".join(lines)


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


def write_csv(rows, path):
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def write_plot(rows, path):
    """Fit time and peak memory vs n (log-log), and the EM share vs n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.array([r["n"] for r in rows], dtype=float)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_markdown(path, command, env, settings, table, lines, files, em_table):
    verdict_lines = "\n".join(f"- {line}" for line in lines)
    title = "DeepGUMRegressor: fit time and peak memory vs rows"
    text = markdown_header(title, command, env, settings) + (
        "Fit time: median over fresh processes; EM = fit_gum + estimate_inlier_logit "
        "calls; peak extra RSS = VmHWM during the fit minus VmRSS before it, largest "
        "over repeats; slope = log-log slope from the previous size (1 = linear). "
        "See the docstring of benchmarks/bench_scaling.py for the data law and "
        f"method.\n\n## Results\n\n{table}\n\n## Verdict\n\n{verdict_lines}\n\n"
        f"## EM working memory: chunked vs whole buffer\n\n{em_table}\n\n"
        f"Files: {', '.join(files)}\n"
    )
    Path(path).write_text(text)


# ---------------------------------------------------------------------------
# Driver


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke run: n = 1e3, 1e4, 2 repeats"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: benchmarks/results/scaling/)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument(
        "--repeats", type=int, default=None, help="fits per size (3, quick 2)"
    )
    parser.add_argument("--device", default="cpu", help="'cpu' (default) or 'cuda'")
    add_threads_argument(parser)
    parser.add_argument(
        "--child",
        nargs=3,
        default=None,
        metavar=("N", "DEVICE", "THREADS"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--em-child",
        nargs=4,
        default=None,
        metavar=("CONFIG", "N", "CHUNKING", "THREADS"),
        help=argparse.SUPPRESS,
    )
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
    settings = {
        "mode": "quick" if args.quick else "full",
        "repeats": args.repeats,
        "device": args.device,
        "threads": args.threads or "library defaults",
        "estimator": "DeepGUMRegressor("
        + ", ".join(f"{k}={v!r}" for k, v in ESTIMATOR.items())
        + ")",
    }
    command, env = announce_run(settings)

    start = time.perf_counter()
    rows = []
    for n in sorted(args.sizes):
        runs = []
        for _ in range(args.repeats):
            runs.append(run_child(n, args.device, args.threads))
            r = runs[-1]
            print(
                f"  n={n:.0e}: fit {r['fit_s']:.3g} s (EM {r['em_s']:.3g} s, "
                f"residual passes {r['residual_pass_s']:.3g} s, SGD {r['sgd_s']:.3g} "
                f"s), peak extra {r['extra_bytes'] / MIB:.1f} MiB",
                flush=True,
            )
        rows.append(size_row(n, runs, {"device": args.device}))
    add_slopes(rows)

    record_load_after(env)
    table, lines = markdown_table(rows), verdict(rows)
    lines += parallelism_warning(env, args.threads)
    print(f"\n{table}\n")
    print("\n".join(lines))
    print("\nEM working memory, chunked vs whole buffer:", flush=True)
    em_table, _ = em_memory_table(EM_ROWS[settings["mode"]], args.threads)
    print(f"\n{em_table}\n")

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"bench_scaling_{settings['mode']}"
    files = [stem.with_suffix(s) for s in (".csv", ".png", ".md")]
    write_csv(rows, files[0])
    write_plot(rows, files[1])
    write_markdown(
        files[2],
        command,
        env,
        settings,
        table,
        lines,
        [f.name for f in files],
        em_table,
    )
    print(
        f"\nWrote {', '.join(str(f) for f in files)} "
        f"({time.perf_counter() - start:.1f} s of measurement)."
    )


if __name__ == "__main__":
    main()
