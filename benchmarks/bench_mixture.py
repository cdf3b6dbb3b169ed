"""Seconds per EM iteration and peak memory: GaussianUniformMixture vs GaussianMixture.

What it measures
----------------
For every sample size ``n`` and dtype (float32, float64), on the *same* residual
array:

* ``GUM``: :class:`sk_deepgum.GaussianUniformMixture` with its defaults
  (``covariance_type='diag'``, ``uniform='moments'``, ``fit_mean=False``);
* ``GM``: :class:`sklearn.mixture.GaussianMixture` with ``n_components=2``,
  ``covariance_type='diag'``, ``init_params='random_from_data'``,
  ``random_state=0``.

1. **Seconds per EM iteration, initialisation excluded.** Each method is fitted with
   ``max_iter=m1`` and with ``max_iter=m2`` (default 2 and 12; 2 and 6 with
   ``--quick``) and ``tol=0``, so EM never stops early (``ConvergenceWarning`` is
   silenced; ``n_iter_`` is checked to equal ``max_iter`` after every fit). The slope
   ``(t(m2) - t(m1)) / (m2 - m1)`` is the time of one iteration; ``t(m1) - m1 *
   slope`` is the fixed cost of a fit (validation, initialisation, final steps).
   Every timed block holds ``number`` back-to-back fits, with ``number`` chosen once
   per cell and method so that a block lasts at least ``min_block`` seconds (small
   ``n`` would otherwise be timer noise); the garbage collector is off inside a
   block. After one untimed warm-up fit per method, the methods are interleaved
   (GUM, GM, GUM, GM, ...) over the repeats; the table reports the median slope, and
   the CSV also its minimum, quartiles, IQR and every per-repeat value. The speed-up
   is median(GM) / median(GUM).
2. **Peak extra resident memory of one fit**, in a fresh Python process per
   (n, dtype, method), one such process per CPU at a time, before any timing: import
   everything, fit once on 1,000 rows (lazy library initialisation is not charged to
   the fit), build the data (chunk-wise, so its temporaries stay small), release
   freed heap memory (glibc ``malloc_trim``), then read ``VmRSS``, reset the kernel's high-water mark (``/proc/self/clear_refs``), fit
   with ``max_iter=--memory-iter`` (default 3), and read ``VmHWM``. The extra memory
   is ``VmHWM - VmRSS``, also given as a multiple of the input array's ``nbytes``.
   The delta of ``resource.getrusage(...).ru_maxrss`` (KiB on Linux) across the fit
   is recorded in the CSV too; it is a lower bound (the high-water mark it starts
   from already includes building the data) and the measurement used where
   ``/proc`` is unavailable.

Data law
--------
Two columns of synthetic regression residuals. Exactly 20 % of the rows (a random
subset) are outliers, each coordinate drawn independently from Uniform(-20, 20); the
other 80 % are drawn from N(0, diag(1.0, 0.25)) (standard deviations 1 and 0.5).
Rows are generated in chunks of 2**20; chunk ``k`` is drawn with
``numpy.random.default_rng([seed, k])`` (seed 0), and holds
``floor(0.2 * stop) - floor(0.2 * start)`` outliers, so the array is the same for
every process and chunking. The float32 data is the float64 array cast to float32.

Sizes: n = 1e3, 1e4, 1e5, 1e6, 1e7 (memory at 1e6 and 1e7), 5 repeats. ``--quick``
(CI smoke run, under 30 s on 2 idle cores): n = 1e3, 1e4, 1e5, 3 repeats, memory at
1e5 only.

Threading
---------
The full run keeps both libraries' default thread pools (torch: OpenMP, with MKL
for BLAS and some vectorised math; numpy: OpenBLAS). ``--quick`` limits every pool
to one thread, so that a CI smoke run stays short and stable. ``--threads N`` limits
every pool to ``N`` threads (``torch.set_num_threads`` and
``threadpoolctl.threadpool_limits``, in the memory processes too) and
``--threads default`` keeps the defaults. The thread counts, the
``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OMP_WAIT_POLICY`` variables, the load
average and the measured CPU parallelism are printed with the results. The latter is
the throughput, in CPUs, of one CPU-bound pure-Python process per CPU running side
by side, measured before and after the benchmark. It falls below the CPU count when
other processes load the machine or a virtual machine cannot run all its CPUs at
once; spin-waiting thread pools then stall one another for milliseconds per
operation and the timings measure contention more than the estimators, so a warning
is printed: compare with ``--threads 1``.

Outputs
-------
The environment and a markdown table are printed; ``bench_mixture_{full,quick}.csv``
(one row per (n, dtype) cell, every number), ``.png`` (seconds per iteration vs n,
log-log, one line per method and dtype, and the speed-up vs n) and ``.md`` (table,
command, environment, date) are written to ``--out``.

The target checked: at n = 1e6 in float32, GUM is at least 10 times faster per
iteration than GaussianMixture. Everything printed is measured, never assumed.

How to run
----------
::

    python benchmarks/bench_mixture.py [--quick] [--out DIR] [--threads N|default]

``--repeats``, ``--m1``, ``--m2`` and ``--memory-iter`` override the defaults.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import datetime
import gc
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

import sk_deepgum
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
    "threads": 1,  # CI: immune to thread-pool contention (see Threading)
}
TARGET_N, TARGET_DTYPE, TARGET_SPEEDUP = 10**6, "float32", 10.0
# What this benchmark calls a "small multiple" of the input for the memory target.
MEMORY_SMALL_MULTIPLE = 5.0
MAX_NUMBER = 10_000
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
MIB = 2**20
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "mixture"


# ---------------------------------------------------------------------------
# Data and estimators


def make_residuals(n, dtype="float64", seed=SEED):
    """Draw the benchmark's two-column residuals (see the module docstring).

    Parameters
    ----------
    n : int
        Number of rows.
    dtype : {'float64', 'float32'}, default='float64'
        Storage dtype; float32 equals the float64 array cast to float32.
    seed : int, default=SEED
        Base seed; chunk ``k`` uses ``default_rng([seed, k])``.

    Returns
    -------
    X : ndarray of shape (n, 2)
    """
    X = np.empty((n, 2), dtype=dtype)
    for k, start in enumerate(range(0, n, CHUNK_ROWS)):
        stop = min(start + CHUNK_ROWS, n)
        X[start:stop] = _residual_chunk(start, stop, np.random.default_rng([seed, k]))
    return X


def _residual_chunk(start, stop, rng):
    """Rows ``start:stop`` in float64, with an exact share of uniform outlier rows."""
    rows = stop - start
    n_out = (OUTLIER_PERCENT * stop) // 100 - (OUTLIER_PERCENT * start) // 100
    chunk = rng.standard_normal((rows, 2)) * np.asarray(INLIER_SD)
    outliers = rng.choice(rows, size=n_out, replace=False)
    chunk[outliers] = rng.uniform(UNIFORM_LOW, UNIFORM_HIGH, size=(n_out, 2))
    return chunk


def make_estimator(method, max_iter):
    """Unfitted estimator of ``method`` ('GUM' or 'GM') that runs exactly ``max_iter``."""
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
    """Fit with ConvergenceWarning silenced; fail unless all ``max_iter`` iterations ran."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X)
    if estimator.n_iter_ != estimator.max_iter:
        raise RuntimeError(
            f"{type(estimator).__name__} ran {estimator.n_iter_} iterations, "
            f"expected max_iter={estimator.max_iter}; the timing would be wrong."
        )
    return estimator


# ---------------------------------------------------------------------------
# Timing


def time_fits(method, X, max_iter, number):
    """Mean wall time of ``number`` back-to-back fits, garbage collector paused.

    Parameters
    ----------
    method : {'GUM', 'GM'}
    X : ndarray of shape (n, 2)
    max_iter : int
        EM iterations per fit (``tol=0``, checked after each fit).
    number : int
        Fits in the timed block.

    Returns
    -------
    seconds : float
        Seconds per fit.
    """
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
    """Warm ``method`` up and pick how many fits make a block of ``min_block`` seconds.

    The first fit is the untimed warm-up; a second one is timed only when the first
    was shorter than ``min_block`` (at large n a fit is its own block).

    Returns
    -------
    number : int
        Fits per timed block, in [1, MAX_NUMBER].
    """
    seconds = time_fits(method, X, m1, 1)
    if seconds >= min_block:
        return 1
    seconds = time_fits(method, X, m1, 1)
    return int(min(MAX_NUMBER, math.ceil(min_block / max(seconds, 1e-9))))


def measure_cell(X, m1, m2, repeats, min_block):
    """Per-iteration and fixed seconds of every method on ``X``, interleaved.

    Returns
    -------
    cell : dict
        Per method: ``number`` (fits per block), ``per_iter`` and ``fixed`` (lists
        with one value per repeat, seconds).
    """
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


def summarize(values):
    """Median, min, quartiles and IQR of per-repeat values.

    Returns
    -------
    summary : dict
        Keys ``median``, ``min``, ``q1``, ``q3``, ``iqr``.
    """
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "median": float(median),
        "min": float(np.min(values)),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
    }


def apply_threads(threads):
    """Limit torch's and the native (BLAS, OpenMP) pools to ``threads``; None: leave."""
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


# ---------------------------------------------------------------------------
# Memory (fresh subprocess per measurement)


def _proc_status_kib(field):
    """``VmRSS``/``VmHWM`` of this process in KiB, or None without ``/proc``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss():
    """Reset the kernel's resident-memory high-water mark; True when it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _proc_status_kib("VmHWM") is not None


def _release_free_memory():
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``), where possible.

    Without it, memory freed while the data was built stays resident, the fit reuses
    it, and the measured extra memory comes out too low.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _ru_maxrss_bytes():
    """Peak resident set size from getrusage, in bytes (KiB on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def memory_child(method, n, dtype, max_iter, threads=None):
    """Body of the fresh process: peak extra resident bytes of one fit.

    Returns
    -------
    result : dict
        ``extra_bytes`` (VmHWM after the fit minus VmRSS before it, or the
        ru_maxrss delta without ``/proc``), ``ru_maxrss_delta_bytes``,
        ``input_nbytes`` and ``hwm_reset`` (whether the high-water mark was reset).
    """
    apply_threads(threads)
    fit_checked(make_estimator(method, 2), make_residuals(1000, dtype))
    X = make_residuals(n, dtype)
    gc.collect()
    _release_free_memory()
    rss_before, ru_before = _proc_status_kib("VmRSS"), _ru_maxrss_bytes()
    hwm_reset = _reset_peak_rss()
    fit_checked(make_estimator(method, max_iter), X)
    ru_delta = _ru_maxrss_bytes() - ru_before
    if hwm_reset and rss_before is not None:
        extra = (_proc_status_kib("VmHWM") - rss_before) * 1024
    else:
        extra = ru_delta
    return {
        "extra_bytes": extra,
        "ru_maxrss_delta_bytes": ru_delta,
        "input_nbytes": X.nbytes,
        "hwm_reset": hwm_reset,
    }


def measure_memory(method, n, dtype, max_iter, threads=None):
    """Run :func:`memory_child` in a fresh interpreter and return its result dict."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        method,
        str(n),
        dtype,
        str(max_iter),
        str(threads or 0),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {command} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_all_memory(sizes, max_iter, threads=None):
    """Memory results keyed by (n, dtype, method), one fresh process each.

    Each process reads only its own resident memory, so the processes run side by
    side, one per CPU; no timing is taken meanwhile.
    """
    keys = [(n, dtype, method) for n in sizes for dtype in DTYPES for method in METHODS]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [
            pool.submit(measure_memory, m, n, d, max_iter, threads) for n, d, m in keys
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


# ---------------------------------------------------------------------------
# Environment


def _cpu_model():
    """CPU model name from /proc/cpuinfo, else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _thread_pools():
    """One-line summary of the native thread pools (BLAS, OpenMP) threadpoolctl sees."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{pool.get('internal_api')} {pool.get('version') or ''} "
        f"({pool.get('num_threads')} threads)".replace("  ", " ")
        for pool in threadpool_info()
    )


_SPIN = (
    "import time\nt = time.perf_counter()\nx = 0\n"
    "for i in range(2_000_000):\n    x += i\nprint(time.perf_counter() - t)"
)


def _spin_seconds(count):
    """Seconds of a fixed pure-Python loop in each of ``count`` concurrent processes."""
    procs = [
        subprocess.Popen([sys.executable, "-I", "-c", _SPIN], stdout=subprocess.PIPE)
        for _ in range(count)
    ]
    return [float(proc.communicate()[0]) for proc in procs]


def cpu_parallelism():
    """Measured throughput, in CPUs, of one CPU-bound process per CPU side by side.

    Returns
    -------
    cpus : float
        ``count * t_alone / mean(t_side_by_side)``; equals the CPU count when the
        CPUs really run in parallel, about 1 when they share one core.
    """
    count = os.cpu_count() or 1
    alone = _spin_seconds(1)[0]
    return count * alone / float(np.mean(_spin_seconds(count)))


def _load_average():
    """The 1, 5 and 15 minute load averages as text ('n/a' where unsupported)."""
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " / ".join(f"{load:.2f}" for load in os.getloadavg())


def _torch_parallel_info(key):
    """Value printed after ``key :`` in ``torch.__config__.parallel_info()``."""
    for line in torch.__config__.parallel_info().splitlines():
        if line.strip().startswith(key):
            return line.split(":", 1)[1].strip()
    return "n/a"


def environment():
    """Machine and library versions that the timings depend on."""
    affinity = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    return {
        "date (UTC)": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "os.cpu_count()": os.cpu_count(),
        "usable CPUs (affinity)": affinity,
        "load average 1/5/15 min (before)": _load_average(),
        "measured CPU parallelism (before)": f"{cpu_parallelism():.2f} CPUs",
        "torch.get_num_threads()": torch.get_num_threads(),
        "thread pools": _thread_pools(),
        "mkl_get_max_threads()": _torch_parallel_info("mkl_get_max_threads()"),
        **{var: os.environ.get(var, "unset") for var in THREAD_VARIABLES},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "sk_deepgum": sk_deepgum.__version__,
    }


def announce_run(settings: dict) -> tuple[str, dict]:
    """Print the command, the environment and the settings; return the command
    line and the environment (``bench_scaling.py`` shares this report layout)."""
    command = shlex.join(["python", *sys.argv])
    env = environment()
    print(f"$ {command}\nEnvironment:")
    for key, value in env.items():
        print(f"  {key}: {value}")
    print("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
    return command, env


def record_load_after(env: dict) -> None:
    """Add the load average and measured CPU parallelism after the measurements."""
    env["load average 1/5/15 min (after)"] = _load_average()
    env["measured CPU parallelism (after)"] = f"{cpu_parallelism():.2f} CPUs"


def markdown_header(title: str, command: str, env: dict, settings: dict) -> str:
    """Title, command, date, environment and settings of a markdown report."""
    env_lines = "\n".join(f"- {key}: {value}" for key, value in env.items())
    setting_lines = "\n".join(f"- {key}: {value}" for key, value in settings.items())
    return (
        f"# {title}\n\nCommand: `{command}`\n\nDate (UTC): {env['date (UTC)']}\n\n"
        f"## Environment\n\n{env_lines}\n\n## Settings\n\n{setting_lines}\n\n"
    )


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--threads N|default`` option (resolved by :func:`resolve_threads`)."""
    parser.add_argument(
        "--threads",
        default=None,
        help="threads per pool (torch, BLAS, OpenMP): a number, or 'default' for the "
        "libraries' defaults (default: 'default', quick: 1)",
    )


def resolve_threads(parser, value, mode_default):
    """``--threads`` as an int, or None for the libraries' defaults."""
    if value is None:
        return mode_default
    if value == "default":
        return None
    if not value.isdigit() or int(value) < 1:
        parser.error("--threads must be a positive integer or 'default'")
    return int(value)


# ---------------------------------------------------------------------------
# Results: rows, table, files


def cell_row(n, dtype, cell, memory, settings):
    """Flatten one (n, dtype) cell into a CSV/table row (dict of plain values)."""
    row = {
        "n": n,
        "dtype": dtype,
        **settings,
        "input_nbytes": n * 2 * (4 if dtype == "float32" else 8),
    }
    for method in METHODS:
        key = method.lower()
        row[f"{key}_number"] = cell[method]["number"]
        for stat, value in summarize(cell[method]["per_iter"]).items():
            row[f"{key}_s_per_iter_{stat}"] = value
        row[f"{key}_fixed_s_median"] = float(np.median(cell[method]["fixed"]))
        row[f"{key}_s_per_iter_values"] = ";".join(
            f"{v:.6g}" for v in cell[method]["per_iter"]
        )
        mem = memory.get((n, dtype, method))
        row[f"{key}_mem_extra_bytes"] = mem["extra_bytes"] if mem else None
        row[f"{key}_mem_multiple"] = (
            mem["extra_bytes"] / mem["input_nbytes"] if mem else None
        )
        row[f"{key}_mem_ru_maxrss_delta_bytes"] = (
            mem["ru_maxrss_delta_bytes"] if mem else None
        )
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
    header = (
        "| n | dtype | GUM s/iter (median) | GUM min | GUM IQR "
        "| GM s/iter (median) | GM min | GM IQR | speed-up GM/GUM "
        "| input MiB | GUM peak extra MiB (× input) | GM peak extra MiB (× input) |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"| {r['n']:.0e} | {r['dtype']} "
            f"| {r['gum_s_per_iter_median']:.3g} | {r['gum_s_per_iter_min']:.3g} "
            f"| {r['gum_s_per_iter_iqr']:.2g} "
            f"| {r['gm_s_per_iter_median']:.3g} | {r['gm_s_per_iter_min']:.3g} "
            f"| {r['gm_s_per_iter_iqr']:.2g} | {r['speedup_median']:.1f}× "
            f"| {r['input_nbytes'] / MIB:.3g} | {_memory_cell(r, 'gum')} "
            f"| {_memory_cell(r, 'gm')} |"
        )
    return "\n".join(lines)


def fixed_cost_table(rows):
    """Secondary table: fixed seconds per fit, median of t(m1) - m1 * slope."""
    lines = [
        "| n | dtype | GUM fixed s/fit | GM fixed s/fit | fits per block GUM / GM |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:.0e} | {r['dtype']} | {r['gum_fixed_s_median']:.3g} "
            f"| {r['gm_fixed_s_median']:.3g} | {r['gum_number']} / {r['gm_number']} |"
        )
    return "\n".join(lines)


def verdict(rows):
    """Plain-language lines on the n=1e6 float32 target and on losing cells."""
    by_cell = {(r["n"], r["dtype"]): r for r in rows}
    target = by_cell.get((TARGET_N, TARGET_DTYPE))
    if target is None:
        lines = [
            f"TARGET (n={TARGET_N:.0e} {TARGET_DTYPE}, GUM >= {TARGET_SPEEDUP:g}x "
            "faster per iteration): NOT EVALUATED, that size is not in this run "
            "(run without --quick)."
        ]
    else:
        ratio = target["speedup_median"]
        state = "MET" if ratio >= TARGET_SPEEDUP else "NOT MET"
        lines = [
            f"TARGET (n={TARGET_N:.0e} {TARGET_DTYPE}, GUM >= {TARGET_SPEEDUP:g}x "
            f"faster per iteration): {state}, measured speed-up {ratio:.1f}x "
            f"(from the per-repeat minima: {target['speedup_min']:.1f}x)."
        ]
        lines += _other_dtype_line(by_cell) + _memory_lines(target)
    losing = [r for r in rows if r["speedup_median"] < 1.0]
    for r in losing:
        lines.append(
            f"GUM is SLOWER per iteration at n={r['n']:.0e} {r['dtype']}: "
            f"speed-up {r['speedup_median']:.2f}x."
        )
    if not losing:
        lines.append("GUM is faster per iteration in every measured cell.")
    return lines


def _other_dtype_line(by_cell):
    other = by_cell.get((TARGET_N, "float64"))
    if other is None:
        return []
    return [f"At n={TARGET_N:.0e} float64: speed-up {other['speedup_median']:.1f}x."]


def _memory_lines(target):
    if target["gum_mem_multiple"] is None:
        return ["Memory at the target cell: not measured."]
    multiple = target["gum_mem_multiple"]
    small = "yes" if multiple <= MEMORY_SMALL_MULTIPLE else "NO"
    return [
        f"Memory at n={TARGET_N:.0e} {TARGET_DTYPE}: GUM peak extra "
        f"{target['gum_mem_extra_bytes'] / MIB:.1f} MiB = {multiple:.2f}x the input "
        f"(GM: {target['gm_mem_multiple']:.2f}x); small multiple "
        f"(<= {MEMORY_SMALL_MULTIPLE:g}x): {small}."
    ]


def parallelism_warning(env, threads):
    """Lines on a loaded machine, and on threads sharing CPUs that are not parallel."""
    measured = min(
        float(env[f"measured CPU parallelism ({when})"].split()[0])
        for when in ("before", "after")
    )
    count = env["os.cpu_count()"] or 1
    used = threads or max(env["torch.get_num_threads()"], count)
    if measured >= 0.75 * count:
        return []
    lines = [
        f"NOTE: measured CPU parallelism {measured:.2f} of {count} CPUs (load "
        f"averages {env['load average 1/5/15 min (before)']} before, "
        f"{env['load average 1/5/15 min (after)']} after): the machine was busy, "
        "absolute times are inflated."
    ]
    if used <= 1:
        return lines
    return lines + [
        f"WARNING: {count} CPUs but a measured parallelism of {measured:.2f} CPUs "
        f"(other load?), with {used} threads per pool: spin-waiting pools may stall "
        "each other, so these timings may measure contention more than the "
        "estimators; compare with --threads 1."
    ]


def write_csv(rows, path):
    """One row per (n, dtype) cell with every number."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_plot(rows, path):
    """Seconds per iteration vs n (log-log) and speed-up vs n, as a PNG (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_speed) = plt.subplots(1, 2, figsize=(12, 4.8))
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
    ax_time.set(
        xscale="log",
        yscale="log",
        xlabel="n (rows)",
        ylabel="seconds per EM iteration (median, IQR bars)",
    )
    ax_time.legend()
    ax_time.grid(True, which="both", alpha=0.3)
    ax_speed.axhline(
        TARGET_SPEEDUP, color="grey", ls=":", label=f"target {TARGET_SPEEDUP:g}x"
    )
    ax_speed.axhline(1.0, color="red", ls=":", lw=0.8, label="parity")
    ax_speed.set(
        xscale="log",
        yscale="log",
        xlabel="n (rows)",
        ylabel="speed-up GM / GUM per iteration",
    )
    ax_speed.legend()
    ax_speed.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        "GaussianUniformMixture vs GaussianMixture(2, 'diag'): one EM iteration"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_markdown(path, command, env, settings, table, fixed, lines, files):
    """Markdown report: command, date, environment, settings, tables, verdict."""
    verdict_lines = "\n".join(f"- {line}" for line in lines)
    title = "GaussianUniformMixture vs GaussianMixture: seconds per EM iteration"
    text = markdown_header(title, command, env, settings) + (
        "Seconds per iteration = (t(m2) - t(m1)) / (m2 - m1), median over repeats "
        "(methods interleaved); speed-up = median GM / median GUM. Peak extra memory: "
        "VmHWM during one fit minus VmRSS before it, fresh process per entry. See the "
        "docstring of benchmarks/bench_mixture.py for the data law and method.\n\n"
        f"## Results\n\n{table}\n\n### Fixed cost per fit\n\n{fixed}\n\n"
        f"## Verdict\n\n{verdict_lines}\n\nFiles: {', '.join(files)}\n"
    )
    Path(path).write_text(text)


# ---------------------------------------------------------------------------
# Driver


def parse_args(argv=None):
    """Command-line options (``--memory-child`` is internal)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run: n <= 1e5, 3 repeats, memory at 1e5",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: benchmarks/results/mixture/)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats per cell (default 5, quick 3)",
    )
    parser.add_argument("--m1", type=int, default=2, help="short fit's max_iter")
    parser.add_argument(
        "--m2", type=int, default=None, help="long fit's max_iter (12, quick 6)"
    )
    parser.add_argument(
        "--memory-iter",
        type=int,
        default=3,
        help="max_iter of the fit whose peak memory is measured",
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--memory-child",
        nargs=5,
        default=None,
        metavar=("METHOD", "N", "DTYPE", "MAX_ITER", "THREADS"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.m2 is None:
        args.m2 = (QUICK if args.quick else FULL)["m2"]
    if not 1 <= args.m1 < args.m2:
        parser.error("need 1 <= --m1 < --m2")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    mode_threads = (QUICK if args.quick else FULL)["threads"]
    args.threads = resolve_threads(parser, args.threads, mode_threads)
    return args


def run_timings(sizes, settings, min_block):
    """Time every (n, dtype) cell; float32 is the cast of the same float64 array."""
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


def main(argv=None):
    """Run the benchmark, print the results and write CSV, PNG and markdown."""
    args = parse_args(argv)
    if args.memory_child is not None:
        method, n, dtype, max_iter, threads = args.memory_child
        result = memory_child(
            method, int(n), dtype, int(max_iter), int(threads) or None
        )
        print(json.dumps(result))
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
    rows = [
        cell_row(n, dtype, cell, memory, settings) for (n, dtype), cell in cells.items()
    ]

    record_load_after(env)
    table, fixed, lines = markdown_table(rows), fixed_cost_table(rows), verdict(rows)
    lines += parallelism_warning(env, args.threads)
    for key in ("load average 1/5/15 min (after)", "measured CPU parallelism (after)"):
        print(f"{key}: {env[key]}")
    print(f"\n{table}\n\nFixed cost per fit:\n\n{fixed}\n")
    print("\n".join(lines))

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"bench_mixture_{settings['mode']}"
    files = [stem.with_suffix(s) for s in (".csv", ".png", ".md")]
    write_csv(rows, files[0])
    write_plot(rows, files[1])
    write_markdown(
        files[2], command, env, settings, table, fixed, lines, [f.name for f in files]
    )
    print(
        f"\nWrote {', '.join(str(f) for f in files)} "
        f"({time.perf_counter() - start:.1f} s of measurement)."
    )


if __name__ == "__main__":
    main()
