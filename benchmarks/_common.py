"""What the benchmark scripts share: environment, command lines, thread pools,
memory probes, the cell cache, runs and their files, metrics, equal-step budgets,
plots. Imported as ``_common`` (the scripts run from ``benchmarks/``)."""

from __future__ import annotations

import argparse
import ast
import csv
import ctypes
import datetime
import gc
import hashlib
import inspect
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import sklearn
import skorch
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, roc_auc_score

import sk_deepgum
from sk_deepgum._data import resolve_batch_size

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = Path(sk_deepgum.__file__).resolve().parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
MIB = 2**20


def command_line(argv, script: str) -> str:
    """The command that ran (``script`` and ``argv`` when ``main(argv)`` is called)."""
    return "python " + shlex.join(sys.argv if argv is None else [script, *argv])


# Environment


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _thread_pools() -> str:
    """The native thread pools threadpoolctl sees, on one line."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{pool.get('internal_api')} {pool.get('version') or ''} "
        f"({pool.get('num_threads')} threads)".replace("  ", " ")
        for pool in threadpool_info()
    )


def _mkl_threads() -> str:
    for line in torch.__config__.parallel_info().splitlines():
        if line.strip().startswith("mkl_get_max_threads()"):
            return line.split(":", 1)[1].strip()
    return "n/a"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages ('n/a' where unsupported)."""
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " / ".join(f"{load:.2f}" for load in os.getloadavg())


_SPIN = (
    "import time\nt = time.perf_counter()\nx = 0\n"
    "for i in range(2_000_000):\n    x += i\nprint(time.perf_counter() - t)"
)


def cpu_parallelism() -> float:
    """Throughput, in CPUs, of one CPU-bound process per CPU side by side:
    ``count * t_alone / mean(t_side_by_side)`` (below the count on a loaded machine)."""

    def spin(count):
        procs = [
            subprocess.Popen(
                [sys.executable, "-I", "-c", _SPIN], stdout=subprocess.PIPE
            )
            for _ in range(count)
        ]
        return [float(proc.communicate()[0]) for proc in procs]

    count = os.cpu_count() or 1
    alone = spin(1)[0]
    return count * alone / float(np.mean(spin(count)))


def environment(mode: str | None = None, parallelism: bool = False) -> dict:
    """Machine, thread pools, versions and date (``parallelism``: with
    :func:`cpu_parallelism`)."""
    affinity = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    try:
        import matplotlib

        mpl_version = matplotlib.__version__
    except ImportError:  # pragma: no cover
        mpl_version = "not installed"
    env = {
        "date (UTC)": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "os.cpu_count()": os.cpu_count(),
        "usable CPUs (affinity)": affinity,
        "load average 1/5/15 min (before)": load_average(),
    }
    if parallelism:
        env["measured CPU parallelism (before)"] = f"{cpu_parallelism():.2f} CPUs"
    env |= {
        "torch.get_num_threads()": torch.get_num_threads(),
        "torch.get_num_interop_threads()": torch.get_num_interop_threads(),
        "thread pools": _thread_pools(),
        "mkl_get_max_threads()": _mkl_threads(),
        **{var: os.environ.get(var, "unset") for var in THREAD_VARIABLES},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "matplotlib": mpl_version,
        "sk_deepgum": f"{sk_deepgum.__version__} ({PACKAGE_DIR})",
    }
    if mode is not None:
        env["mode"] = mode
    return env


def announce_run(settings: dict) -> tuple[str, dict]:
    """Print and return the command and environment of a timing benchmark."""
    command = command_line(None, "")
    env = environment(parallelism=True)
    print(f"$ {command}\nEnvironment:")
    for key, value in env.items():
        print(f"  {key}: {value}")
    print("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
    return command, env


def load_after(env: dict, threads: int | None) -> list[str]:
    """Record the load and CPU parallelism after the measurements in ``env``; lines
    on a loaded machine, and on threads sharing CPUs that are not parallel."""
    env["load average 1/5/15 min (after)"] = load_average()
    env["measured CPU parallelism (after)"] = f"{cpu_parallelism():.2f} CPUs"
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


# Thread pools


def add_threads_argument(parser) -> None:
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


def apply_threads(threads: int | None) -> None:
    """Limit torch's and the native (BLAS, OpenMP) pools to ``threads``; None: leave."""
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


# Timing benchmarks (a fresh process per measurement, no cell cache)


def timing_parser(doc: str, quick: str, out: Path) -> argparse.ArgumentParser:
    """``--quick``, ``--out`` (default ``out``) and ``--threads``."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"CI smoke run: {quick}")
    shown = f"default: {out.relative_to(HERE.parent)}/"
    parser.add_argument(
        "--out", type=Path, default=out, help=f"output directory ({shown})"
    )
    add_threads_argument(parser)
    return parser


# Memory, measured in a fresh process


def _proc_status_kib(field: str) -> int | None:
    """``VmRSS``/``VmHWM`` of this process in KiB, or None without ``/proc``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss_bytes() -> int:
    """Peak resident set size from getrusage (KiB on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class PeakRSS:
    """Peak extra resident bytes of a ``with`` block (``extra``): ``VmHWM`` after
    it minus ``VmRSS`` before it, the high-water mark reset on entry; where it
    cannot be reset, the ``ru_maxrss`` delta (a lower bound). Also ``ru_delta``
    and ``hwm_reset``.

    ``malloc_trim`` on entry: memory freed while the data was built would stay
    resident, the block would reuse it and the extra come out too low.
    """

    def __enter__(self) -> PeakRSS:
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        self.rss_before, self.ru_before = _proc_status_kib("VmRSS"), _ru_maxrss_bytes()
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            self.hwm_reset = _proc_status_kib("VmHWM") is not None
        except OSError:
            self.hwm_reset = False
        return self

    def __exit__(self, *exc) -> None:
        self.ru_delta = _ru_maxrss_bytes() - self.ru_before
        self.extra = self.ru_delta
        if self.hwm_reset and self.rss_before is not None:
            self.extra = (_proc_status_kib("VmHWM") - self.rss_before) * 1024


def run_child(script: str, args: Iterable, env: dict | None = None) -> dict:
    """The JSON of the last line ``script args`` prints in a fresh interpreter."""
    command = [sys.executable, str(script), *map(str, args)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {shlex.join(command)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Cell cache


def _code_text(source: str) -> bytes:
    """``source``'s syntax tree without docstrings (formatting edits keep it)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return ast.dump(tree).encode()


def code_fingerprint(identity: dict, cell_code: Iterable[Callable] = ()) -> str:
    """Hash of every imported ``sk_deepgum`` module and of ``cell_code`` (syntax
    trees without docstrings: not the report's layout) and ``identity`` (the
    mode's sizes and constants the cells read)."""
    digest = hashlib.sha256()
    names = sorted(
        n for n in sys.modules if n == "sk_deepgum" or n.startswith("sk_deepgum.")
    )
    for name in names:
        path = getattr(sys.modules[name], "__file__", None)
        if path:
            digest.update(name.encode() + _code_text(Path(path).read_text()))
    for function in cell_code:
        source = textwrap.dedent(inspect.getsource(function))
        digest.update(function.__qualname__.encode() + _code_text(source))
    digest.update(json.dumps(identity, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


class CellCache:
    """JSON-lines cache (``path``, appended to) of (section, task, method, rate,
    seed) results; records of another ``fingerprint`` are stale, and all are
    ignored without ``resume``."""

    def __init__(self, path: Path, fingerprint: str, resume: bool):
        self.path, self.fingerprint = path, fingerprint
        self.records: dict = {}
        self.n_stale = self.hits = self.misses = 0
        if resume and path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record.get("fingerprint") == fingerprint:
                    self.records[tuple(record["key"])] = record["result"]
                else:
                    self.n_stale += 1

    @staticmethod
    def key(section, task, method, rate, seed) -> tuple:
        """Normalised cell key."""
        return (section, task, method, round(float(rate), 6), int(seed))

    def counts(self) -> str:
        """'h cell(s) reused, m computed, s stale record(s) ignored'."""
        return (
            f"{self.hits} cell(s) reused, {self.misses} computed, {self.n_stale} "
            "stale record(s) ignored"
        )

    def get_or_compute(self, key: tuple, compute: Callable[[], dict]) -> dict:
        """Cached result of ``key``, or ``compute()`` stored as a new line."""
        if key in self.records:
            self.hits += 1
            return {**self.records[key], "cached": True}
        result = compute()
        self.misses += 1
        if "error" in result:  # not cached: a rerun retries the cell
            return {**result, "cached": False}
        self.records[key] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            record = {"key": list(key), "fingerprint": self.fingerprint}
            out.write(json.dumps({**record, "result": result}) + "\n")
        return {**result, "cached": False}


def run_cell(cache: CellCache, section, task, method, rate, seed, compute) -> dict:
    """The key fields and the cached or computed result (a fit that raises gives
    ``rmse`` NaN and ``error``, not cached)."""
    key = CellCache.key(section, task, method, rate, seed)

    def guarded():
        try:
            return compute()
        except Exception as exc:
            return {"rmse": math.nan, "error": f"{type(exc).__name__}: {exc}"}

    result = cache.get_or_compute(key, guarded)
    row = dict(zip(("section", "task", "method", "rate", "seed"), key, strict=True))
    row.update(result)
    status = result.get("error") or (
        "cached" if result["cached"] else f"{result.get('fit_seconds', 0):.1f}s"
    )
    print(
        f"  {section}/{task} {method:<14} rate={rate:<4g} seed={seed} "
        f"rmse={result.get('rmse', math.nan):.4f} ({status})",
        flush=True,
    )
    return row


def cached_parser(doc: str, quick: str, full: str = "", required: bool = False):
    """``--quick`` (with ``full``: or ``--full``), ``--seeds``, ``--out``, ``--resume``."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    mode = parser.add_mutually_exclusive_group(required=required)
    mode.add_argument("--quick", action="store_true", help=f"CI smoke run ({quick})")
    if full:
        mode.add_argument("--full", action="store_true", help=full)
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse finished cells from cells.jsonl (default: on)",
    )
    return parser


def parse_cached(parser, argv, out: Path, full_dir: str = ""):
    """Parsed ``argv``; ``--out`` defaults to ``out/quick`` or ``out/full_dir``."""
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.out is None:
        args.out = out / ("quick" if args.quick else full_dir)
    return args


def start_run(argv, script: str, args, fingerprint: str):
    """Print and return the command, cell cache and environment of a cached run."""
    command = command_line(argv, f"benchmarks/{script}")
    args.out.mkdir(parents=True, exist_ok=True)
    cache = CellCache(args.out / "cells.jsonl", fingerprint, args.resume)
    env = environment("quick" if args.quick else "full")
    print(f"Command: {command}")
    for key, value in env.items():
        print(f"{key}: {value}")
    return command, cache, env


@dataclass
class Section:
    """Raw rows, markdown lines and checks of one report section."""

    rows: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    checks: list = field(default_factory=list)


def run_sections(runners: dict, label: str = "Section") -> tuple[dict, Section]:
    """Run each ``name: () -> Section``; the sections, and all of them in one (the
    report body: each section's lines, then its wall time)."""
    results, run = {}, Section()
    for name, section in runners.items():
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        results[name] = out = section()
        wall = f"{label} wall time: {time.perf_counter() - t0:.1f} s"
        run.lines += [*out.lines, wall, ""]
        run.rows += out.rows
        run.checks += out.checks
        print("\n".join(out.lines) + "\n" + wall, flush=True)
    return results, run


def write_results(out: Path, report, rows, cache, start, plots=(), suffix="") -> str:
    """``results{suffix}.md`` (``report``, total wall time), ``.csv`` and the
    ``(name, plot(path))`` PNGs; returns the total wall-time line."""
    total = f"Total wall time: {time.perf_counter() - start:.1f} s"
    files = [out / f"results{suffix}.md", out / f"results{suffix}.csv"]
    files[0].write_text("\n".join([*report, total]) + "\n")
    write_csv(rows, files[1])
    for name, plot in plots:
        files.append(out / f"{name}{suffix}.png")
        plot(files[-1])
    print(f"Cache: {cache.counts()}")
    print("Wrote " + ", ".join(str(f) for f in files) + f"\n{total}")
    return total


def write_csv(rows: list[dict], path: Path) -> None:
    """Every row; columns are the union of keys in first-seen order."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with Path(path).open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# Fits, metrics and aggregation


def fit_timed(model, X, y, **fit_params) -> float:
    """Seconds of ``model.fit(X, y, **fit_params)``. A ConvergenceWarning (a peer
    stopping at its ``max_iter``) is silenced; other warnings show."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y, **fit_params)
        return time.perf_counter() - start


def rmse(y_pred, y_true) -> float:
    """Root mean squared error over every entry."""
    return float(np.sqrt(np.mean((np.asarray(y_pred) - np.asarray(y_true)) ** 2)))


def auc_or_nan(mask, scores) -> float:
    """ROC-AUC of ``scores`` against ``mask`` (flattened); NaN with one class only."""
    mask, scores = np.ravel(mask), np.ravel(scores)
    if mask.all() or not mask.any():
        return math.nan
    return float(roc_auc_score(mask, scores))


def f1_or_nan(mask, flags) -> float:
    """F1 of boolean ``flags`` against ``mask`` (flattened); NaN without positives."""
    mask, flags = np.ravel(mask), np.ravel(flags)
    if not mask.any():
        return math.nan
    return float(f1_score(mask, flags, zero_division=0.0))


def detection(mask, scores, flags=None, name: str = "{}") -> dict:
    """AUC of ``scores`` and F1 of ``flags`` (default: ``scores > 0.5``, for a
    posterior) against ``mask``, keyed ``name`` with 'auc' and 'f1'."""
    flags = np.asarray(scores) > 0.5 if flags is None else flags
    auc, f1 = auc_or_nan(mask, scores), f1_or_nan(mask, flags)
    return {name.format("auc"): auc, name.format("f1"): f1}


def select(rows, metric, **where) -> np.ndarray:
    """Values of ``metric`` in the rows matching every ``where`` field."""
    return np.array(
        [
            r[metric]
            for r in rows
            if metric in r and all(r.get(k) == v for k, v in where.items())
        ],
        dtype=float,
    )


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample std (ddof=1; NaN with fewer than 2 values), NaNs dropped."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    std = float(np.std(values, ddof=1)) if values.size > 1 else math.nan
    return float(np.mean(values)), std


def mean_of(rows, metric, **where) -> float:
    """Mean over seeds of ``metric`` (NaN when nothing matches)."""
    return mean_std(select(rows, metric, **where))[0]


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is NaN or b is 0."""
    if math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


# Training budgets at equal optimiser steps


def steps_per_epoch(params: dict, n_rows: int) -> int:
    """Optimiser steps per epoch on ``n_rows`` rows: ``ceil(max(n,
    min_rows_per_epoch) / B)``, ``B`` the batch size a fit resolves."""
    rows = max(n_rows, params.get("min_rows_per_epoch", 0))
    batch = resolve_batch_size(params["batch_size"], n_rows, lazy=False)
    return math.ceil(rows / batch)


def equal_step_params(estimator, n_all: int, n_fit: int) -> dict:
    """Epochs giving a fit on ``n_fit`` rows (a clean subset) the optimiser steps
    of one on ``n_all`` rows: with ``r = steps(n_all) / steps(n_fit)``,
    ``ceil(max_epochs * r)``, DeepGUM's ``warm_up_epochs`` and ``epochs_per_round``
    ``round(value * r)`` (the latter at least 1); ``{}`` when ``r == 1``."""
    params = estimator.get_params()
    steps_all = steps_per_epoch(params, n_all)
    steps_fit = steps_per_epoch(params, n_fit)
    if steps_all == steps_fit:
        return {}

    # Integer arithmetic: 100 * 32 / 25 must give 128, not ceil(128.00000000000003).
    def ceil_scaled(epochs: int) -> int:
        return -(-epochs * steps_all // steps_fit)

    def round_scaled(epochs: int) -> int:
        return (2 * epochs * steps_all + steps_fit) // (2 * steps_fit)

    out = {"max_epochs": ceil_scaled(params["max_epochs"])}
    if "warm_up_epochs" in params:
        out["warm_up_epochs"] = round_scaled(params["warm_up_epochs"])
        out["epochs_per_round"] = max(1, round_scaled(params["epochs_per_round"]))
    return out


# Plots


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int) -> None:
    """Tight layout, write ``path``, close."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
