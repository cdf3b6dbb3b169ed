"""The ``sk-deepgum`` command line.

``sk-deepgum demo`` fits DeepGUM and plain L2 on an embedded contaminated dataset.
``sk-deepgum clean DATA.csv --target COL --out OUT.csv`` fits
:class:`~sk_deepgum.DeepGUMRegressor` on a CSV file and writes every row back with its
outlier score and flag (or, with ``--drop``, only the rows it keeps).

Bad input (a missing file or column, text in a numeric column, missing values, an
empty file) ends with exit status 2 and one line on stderr naming the problem.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

_PROG = "sk-deepgum"


class CLIError(Exception):
    """A problem with the user's input, reported in one line with exit status 2."""


def _demo(args: argparse.Namespace) -> int:
    from sklearn.metrics import f1_score, roc_auc_score

    from sk_deepgum import DeepGUMRegressor
    from sk_deepgum.baselines import RobustNetRegressor
    from sk_deepgum.datasets import make_contaminated_regression

    # The embedded dataset: a published law (see make_contaminated_regression) with
    # 30 % of the targets replaced by uniform draws, and a clean test set.
    data = make_contaminated_regression(
        1000,
        5,
        outlier_rate=0.3,
        noise=0.1,
        random_state=args.seed,
        return_details=True,
    )
    X_test, y_test, _ = make_contaminated_regression(
        2000, 5, outlier_rate=0.0, noise=0.0, random_state=args.seed + 1
    )
    print(f"Data: {data.law}")
    verbose = 0 if args.quiet else 1
    gum = DeepGUMRegressor(random_state=args.seed, verbose=verbose).fit(data.X, data.y)
    l2 = RobustNetRegressor(random_state=args.seed, verbose=verbose).fit(data.X, data.y)

    def rmse(model):
        return float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))

    truth = data.outlier_mask
    found = gum.outliers_
    print(f"\nOutliers: {truth.sum()} wrong targets among {len(truth)} rows")
    print(
        f"  DeepGUM flags {found.sum()}: {np.sum(found & truth)} correctly, "
        f"{np.sum(found & ~truth)} false alarms "
        f"(F1 {f1_score(truth, found):.3f}, ROC-AUC "
        f"{roc_auc_score(truth, gum.outlier_scores_):.3f}; "
        f"Bayes-optimal F1 {f1_score(truth, data.outlier_proba_bayes > 0.5):.3f})"
    )
    print(
        f"  learnt inlier share {gum.mixture_.weights_[0]:.3f} "
        f"(true {1 - truth.mean():.3f})"
    )
    print("\nError on a clean test set (RMSE against the true function):")
    print(f"  DeepGUM         {rmse(gum):.4f}")
    print(f"  plain L2 (same network, same epochs) {rmse(l2):.4f}")
    return 0


# ---------------------------------------------------------------------------
# clean: CSV in, CSV with outlier scores out


@dataclass
class _Table:
    """A CSV file as read: header, raw string rows and their line numbers."""

    path: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]


def _names(columns) -> str:
    return ", ".join(repr(c) for c in columns)


def _read_csv(path: str) -> _Table:
    if not os.path.exists(path):
        raise CLIError(f"input file {path!r} does not exist.")
    if os.path.isdir(path):
        raise CLIError(f"input path {path!r} is a directory, not a CSV file.")
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs write.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = None
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank line
                if header is None:
                    header = [cell.strip() for cell in row]
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"cannot read {path!r}: {exc}.") from None
    if header is None:
        raise CLIError(f"input file {path!r} is empty (no header line).")
    if not rows:
        raise CLIError(f"input file {path!r} has a header but no data rows.")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise CLIError(f"{path!r} has repeated column names: {_names(repeated)}.")
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(header):
            raise CLIError(
                f"{path!r} line {line} has {len(row)} fields; the header has "
                f"{len(header)}."
            )
    return _Table(path, header, rows, lines)


def _select_columns(table: _Table, targets, features) -> tuple[list[str], list[str]]:
    asked = list(targets) + list(features or [])
    missing = [c for c in dict.fromkeys(asked) if c not in table.header]
    if missing:
        raise CLIError(
            f"column(s) {_names(missing)} not found in {table.path!r}; it has "
            f"{_names(table.header)}."
        )
    repeated = sorted({c for c in targets if list(targets).count(c) > 1})
    if repeated:
        raise CLIError(f"--target {_names(repeated)} given more than once.")
    if features is None:
        features = [c for c in table.header if c not in targets]
    else:
        both = [c for c in features if c in targets]
        if both:
            raise CLIError(
                f"column(s) {_names(both)} are both --target and --features."
            )
        features = list(dict.fromkeys(features))
    if not features:
        raise CLIError(
            f"no feature columns: every column of {table.path!r} is a --target."
        )
    return list(targets), features


def _numeric_matrix(table: _Table, columns: list[str]) -> np.ndarray:
    """Parse ``columns`` as floats; name every non-numeric and every incomplete one."""
    index = [table.header.index(c) for c in columns]
    values = np.empty((len(table.rows), len(columns)))
    text, incomplete = {}, {}
    for i, (row, line) in enumerate(zip(table.rows, table.lines, strict=True)):
        for j, (name, k) in enumerate(zip(columns, index, strict=True)):
            cell = row[k].strip()
            try:
                value = float(cell) if cell else math.nan
            except ValueError:
                text.setdefault(name, (cell, line))
                continue
            if not math.isfinite(value):
                incomplete.setdefault(name, (cell, line))
            values[i, j] = value
    if text:
        examples = "; ".join(f"{c!r}: {v!r} on line {n}" for c, (v, n) in text.items())
        raise CLIError(
            f"non-numeric (categorical or text) column(s) {_names(text)} ({examples}); "
            "encode them as numbers or leave them out with --features."
        )
    if incomplete:
        examples = "; ".join(
            f"{c!r}: {v or 'empty'!r} on line {n}" for c, (v, n) in incomplete.items()
        )
        raise CLIError(
            f"missing or non-finite values (empty, NaN or inf) in column(s) "
            f"{_names(incomplete)} ({examples}); drop or impute those rows first."
        )
    return values


def _score_columns(targets: list[str], groups: str | None) -> list[str]:
    names = ["outlier_score", "outlier"]
    if groups == "each":
        for t in targets:
            names += [f"outlier_score_{t}", f"outlier_{t}"]
    return names


def _check_output_path(path: str, input_path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"output path {path!r} is a directory; give a file name.")
    if not os.path.isdir(directory):
        raise CLIError(f"output directory {directory!r} does not exist.")
    if os.path.abspath(path) == os.path.abspath(input_path):
        raise CLIError("--out must differ from the input file (it would overwrite it).")


def _clean(args: argparse.Namespace) -> int:
    # Everything the user can get wrong is checked before the (slow) fit.
    table = _read_csv(args.data)
    targets, features = _select_columns(table, args.target, args.features)
    new_columns = _score_columns(targets, args.groups)
    clash = [c for c in new_columns if c in table.header]
    if clash:
        raise CLIError(
            f"{table.path!r} already has column(s) {_names(clash)}, which clean "
            "writes; rename them first."
        )
    _check_output_path(args.out, args.data)
    # Parsed together so that one message names every bad column.
    values = _numeric_matrix(table, features + targets)
    X, Y = values[:, : len(features)], values[:, len(features) :]
    if len(X) < 3:
        raise CLIError(f"{table.path!r} has {len(X)} data row(s); clean needs >= 3.")

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sk_deepgum import DeepGUMRegressor

    model = DeepGUMRegressor(
        max_epochs=args.epochs,
        groups=args.groups,
        outlier_threshold=args.threshold,
        device=args.device,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    # Features on arbitrary scales would stall the network's training; the targets
    # are scaled robustly inside the regressor.
    pipeline = make_pipeline(StandardScaler(), model)
    y = Y[:, 0] if len(targets) == 1 else Y
    try:
        pipeline.fit(X, y)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"cannot fit DeepGUMRegressor: {exc}") from None

    scores = model.outlier_scores_
    flags = model.outliers_
    extra = [[repr(float(s)), str(int(f))] for s, f in zip(scores, flags, strict=True)]
    if args.groups == "each":
        for i in range(len(extra)):
            for g in range(len(targets)):
                s = model.group_outlier_scores_[i, g]
                extra[i] += [repr(float(s)), str(int(model.group_outliers_[i, g]))]
    keep = ~flags if args.drop else np.ones(len(flags), dtype=bool)
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(table.header + new_columns)
            for row, more, kept in zip(table.rows, extra, keep, strict=True):
                if kept:
                    writer.writerow(row + more)
    except OSError as exc:
        raise CLIError(f"cannot write {args.out!r}: {exc}.") from None
    if not args.quiet:
        print(
            f"{int(flags.sum())} of {len(flags)} rows flagged as outliers "
            f"(outlier_score > {args.threshold:g}); wrote {int(keep.sum())} rows to "
            f"{args.out}",
            file=sys.stderr,
        )
    return 0


# ---------------------------------------------------------------------------
# Argument parsing


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value:g}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Build the ``sk-deepgum`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        The parser with the ``demo`` and ``clean`` subcommands.
    """
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Deep robust regression with DeepGUM."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="Fit on an embedded contaminated dataset.",
        description="Fit DeepGUM and plain L2 on an embedded dataset with 30 %% "
        "wrong targets; print the outliers found and the clean-test errors.",
    )
    demo.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
    demo.add_argument("--quiet", action="store_true", help="No progress bars.")
    demo.set_defaults(func=_demo)

    clean = sub.add_parser(
        "clean",
        help="Score the rows of a CSV file by how wrong their targets look.",
        description="Fit DeepGUMRegressor (after standardising the features) on a CSV "
        "file and write every row with its outlier_score (probability that the row's "
        "target is wrong) and outlier flag (1/0), or only the kept rows with --drop.",
        epilog="Example: sk-deepgum clean houses.csv --target price --out scored.csv",
    )
    clean.add_argument("data", metavar="DATA.csv", help="Input CSV with a header line.")
    clean.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="COL",
        help="Target column; repeat for several targets.",
    )
    clean.add_argument(
        "--features",
        nargs="+",
        metavar="COL",
        help="Numeric feature columns (default: every column that is not a target).",
    )
    clean.add_argument(
        "--out", required=True, metavar="OUT.csv", help="Output CSV file."
    )
    clean.add_argument(
        "--drop",
        action="store_true",
        help="Write only the rows not flagged as outliers (without the flagged ones).",
    )
    clean.add_argument(
        "--epochs",
        type=_positive_int,
        default=100,
        help="Training epochs (max_epochs, default 100).",
    )
    clean.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
    clean.add_argument(
        "--device",
        default="cpu",
        help="'cpu' (default), 'cuda', 'cuda:N' or 'auto'.",
    )
    clean.add_argument(
        "--threshold",
        type=_probability,
        default=0.5,
        help="Flag rows whose outlier_score exceeds this (default 0.5).",
    )
    clean.add_argument(
        "--groups",
        choices=["each"],
        default=None,
        help="'each': one outlier latent per target, adding outlier_score_<COL> and "
        "outlier_<COL> columns per target.",
    )
    clean.add_argument(
        "--quiet", action="store_true", help="No progress bar and no summary."
    )
    clean.set_defaults(func=_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``sk-deepgum`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input (reported in one line on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"{_PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
