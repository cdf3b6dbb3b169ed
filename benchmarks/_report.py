"""Markdown report parts of the benchmarks: numbers, tables, checks, headers."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from _common import mean_std, select, write_csv


def fmt(value, digits: int = 4) -> str:
    """Number with ``digits`` significant digits; 'n/a' for None or NaN."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}g}"


def fmt_pm(values: np.ndarray, digits: int = 4) -> str:
    """'mean ± std' over seeds ('mean' alone with a single value)."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "n/a"
    if math.isnan(std):
        return fmt(mean, digits)
    # Equal values (e.g. a true share fixed by the law) differ only by rounding.
    spread = "0" if std <= 1e-12 * max(1.0, abs(mean)) else f"{std:.2g}"
    return f"{fmt(mean, digits)} ± {spread}"


def pm(rows, metric, digits: int = 4, **where) -> str:
    """:func:`fmt_pm` of ``metric`` over the rows matching ``where``."""
    return fmt_pm(select(rows, metric, **where), digits)


def pm_cells(rows, metrics, digits: int = 4, **where) -> list[str]:
    """:func:`pm` of each of ``metrics``."""
    return [pm(rows, metric, digits, **where) for metric in metrics]


def md_table(headers, rows, align: str = "") -> list[str]:
    """Markdown table lines; ``headers`` a sequence or 'a | b'; ``align`` 'r' per
    right-aligned column."""
    if isinstance(headers, str):
        headers = [h.strip() for h in headers.split("|")]
    rule = ["---:" if a == "r" else "---" for a in align.ljust(len(headers), "l")]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(rule) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def check(name, value, target, ok, detail="", *, quick=False, context=""):
    """One row of a checks table. ``ok``: bool (PASS/FAIL, 'info (PASS)' with
    ``quick``), None or NaN ``value`` ('n/a'), a string ('info': no target).
    ``context``: the numbers that explain a miss."""
    if isinstance(value, float) and math.isnan(value):
        ok = None
    if isinstance(ok, str):
        verdict = "info"
    elif ok is None:
        verdict = "n/a"
    else:
        verdict = "PASS" if ok else "FAIL"
        verdict = f"info ({verdict})" if quick else verdict
    return {
        "check": name,
        "value": value if isinstance(value, str) else fmt(value),
        "target": target,
        "verdict": verdict,
        "detail": detail,
        "context": context,
    }


def checks_table(checks, quick: bool) -> list[str]:
    """Markdown lines of a checks table (with the quick-mode caveat)."""
    head = "verdict (informational: --quick)" if quick else "verdict"
    rows = [
        (c["check"], c["value"], c["target"], c["verdict"], c["detail"]) for c in checks
    ]
    return md_table(("check", "value", "target", head, "detail"), rows)


def outcome(c: dict) -> str:
    """'PASS', 'FAIL' or 'n/a' of a check, informational (quick) or not."""
    return c["verdict"].removeprefix("info (").removesuffix(")")


def losses(checks: list[dict]) -> list[str]:
    """The failed checks, with the numbers measured beside them."""
    failed = [c for c in checks if outcome(c) == "FAIL"]
    if not failed:
        return ["Where we lose: nowhere among the targets of this run.", ""]
    lines = ["Where we lose (targets missed in this run):", ""]
    for c in failed:
        lines.append(
            f"- {c['check']}: {c['value']} (target {c['target']}; {c['detail']})"
        )
        if c.get("context"):
            lines.append(f"  - measured beside it: {c['context']}")
    return [*lines, ""]


def summary_lines(checks, quick: bool, rows, where_we_lose: bool = False) -> list[str]:
    """The checks with a target in one table and their count, then (with
    ``where_we_lose``: every check, counted informational or not, and the losses)
    every cell whose fit raised."""
    lines = ["## summary of checks", ""]
    if not where_we_lose:
        lines += checks_table([c for c in checks if c["verdict"] != "info"], quick)
        counts = {v: sum(c["verdict"] == v for c in checks) for v in ("PASS", "FAIL")}
        lines += ["", f"{counts['PASS']} PASS, {counts['FAIL']} FAIL.", ""]
        return lines + raised_lines(rows)
    counts = {w: sum(outcome(c) == w for c in checks) for w in ("PASS", "FAIL", "n/a")}
    note = " (informational: --quick)" if quick else ""
    lines += [
        *checks_table(checks, quick),
        "",
        f"{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['n/a']} n/a{note}.",
        "",
    ]
    return lines + losses(checks) + raised_lines(rows)


def raised_lines(rows) -> list[str]:
    """The cells whose fit raised, one line each, after a count."""
    failed = [r for r in rows if "error" in r]
    lines = [f"Cells whose fit raised (left out of the means): {len(failed)}.", ""]
    return lines + [
        f"- {r['section'] + '/' if 'section' in r else ''}{r['task']} {r['method']} "
        f"rate={r['rate']:g} seed={r['seed']}: {r['error']}"
        for r in failed
    ]


def defaults_lines(*estimators) -> list[str]:
    """'- Name defaults: k=v, ...' per estimator (sorted parameters)."""

    def show(estimator):
        return ", ".join(
            f"{k}={getattr(v, '__name__', v)!s}"
            for k, v in sorted(estimator.get_params().items())
        )

    return [f"- {type(e).__name__} defaults: {show(e)}" for e in estimators]


def report_header(title, command, mode, env, before_env=(), after_env=()):
    """Title, command, mode, ``before_env``, the environment, ``after_env``."""
    lines = [f"# {title}", "", f"Command: `{command}`", "", mode, "", *before_env]
    lines += ["Environment:", "", *[f"- {k}: {v}" for k, v in env.items()]]
    return [*lines, *after_env]


def timing_markdown(path, title, run, intro, parts, files) -> None:
    """A timing report: title, command, date, environment, settings (``run``: the
    command, environment and settings), ``intro``, then ``(heading, text)`` parts."""
    command, env, settings = run
    env_lines = "\n".join(f"- {key}: {value}" for key, value in env.items())
    setting_lines = "\n".join(f"- {key}: {value}" for key, value in settings.items())
    body = "".join(f"\n\n{heading}\n\n{text}" for heading, text in parts)
    Path(path).write_text(
        f"# {title}\n\nCommand: `{command}`\n\nDate (UTC): {env['date (UTC)']}\n\n"
        f"## Environment\n\n{env_lines}\n\n## Settings\n\n{setting_lines}\n\n"
        f"{intro}{body}\n\nFiles: {', '.join(files)}\n"
    )


def write_timing_files(out, stem, rows, plot, start, title, run, intro, parts) -> None:
    """``stem``.csv, .png (``plot(rows, path)``) and the :func:`timing_markdown`
    report ``stem``.md of a timing benchmark."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{stem}{suffix}" for suffix in (".csv", ".png", ".md")]
    write_csv(rows, files[0])
    plot(rows, files[1])
    timing_markdown(files[2], title, run, intro, parts, [f.name for f in files])
    print(
        f"\nWrote {', '.join(str(f) for f in files)} "
        f"({time.perf_counter() - start:.1f} s of measurement)."
    )
