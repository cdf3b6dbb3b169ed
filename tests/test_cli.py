"""The ``sk-deepgum`` command line: run as a subprocess like a user would, and, for
the bad-input cases (which never fit), through :func:`sk_deepgum.cli.main` in this
process, which skips the 3 s of a fresh interpreter importing torch per case."""

import csv
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

EPOCHS = "20"


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sk_deepgum.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def run_cli_in_process(capsys, *args):
    """``main(argv)`` with the exit status and the captured output, as
    :func:`run_cli` returns them (argparse's usage errors exit via SystemExit)."""
    from sk_deepgum.cli import main

    capsys.readouterr()
    try:
        returncode = main(list(map(str, args)))
    except SystemExit as exc:
        returncode = exc.code
    captured = capsys.readouterr()
    return SimpleNamespace(
        returncode=returncode, stdout=captured.out, stderr=captured.err
    )


def clean_xy(data, out, *extra):
    """``clean`` on the shared CSV: target y, features x0 and x1, then ``extra``."""
    return run_cli(
        "clean", data, "--target", "y", "--features", "x0", "x1", "--out", out, *extra
    )


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def contaminated_rows(n=100, n_targets=1, seed=0):
    """Rows (x0, x1, y...) with y linear in x; rows 0..14 of the first target wrong."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    Y = np.column_stack(
        [X[:, 0] - (k + 1) * X[:, 1] for k in range(n_targets)]
    ) + 0.05 * rng.normal(size=(n, n_targets))
    Y[:15, 0] += rng.choice([-1, 1], 15) * rng.uniform(4, 8, 15)
    return np.column_stack([X, Y])


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "data.csv"
    values = contaminated_rows()
    # A text column that --features leaves out must travel through unchanged.
    rows = [[f"{v:.6f}" for v in row] + [f"name {i}"] for i, row in enumerate(values)]
    return write_csv(path, ["x0", "x1", "y", "label"], rows)


@pytest.fixture(scope="module")
def scored(data_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scored.csv"
    before = data_csv.read_bytes()
    result = clean_xy(
        data_csv, out, "--epochs", EPOCHS, "--threshold", "0.4", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    assert data_csv.read_bytes() == before  # input untouched
    return result, read_csv(out)


@pytest.mark.parametrize("args", [[], ["demo"], ["clean"]])
def test_help(args):
    result = run_cli(*args, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: sk-deepgum")


def test_clean_writes_rows_scores_and_flags(data_csv, scored):
    result, (header, rows) = scored
    assert result.stdout == "" and result.stderr == ""  # --quiet
    in_header, in_rows = read_csv(data_csv)
    assert header == in_header + ["outlier_score", "outlier"]
    assert [r[:4] for r in rows] == in_rows  # every input row, cells as written
    scores = np.array([float(r[4]) for r in rows])
    flags = np.array([r[5] for r in rows])
    assert np.all((scores >= 0) & (scores <= 1))
    assert set(flags) <= {"0", "1"}
    np.testing.assert_array_equal(flags == "1", scores > 0.4)
    # The 15 wrong targets are found.
    assert scores[:15].min() > scores[15:].max()
    assert np.all(flags[:15] == "1")


def test_clean_drop_keeps_only_inliers(data_csv, scored, tmp_path):
    _, (_, all_rows) = scored
    out = tmp_path / "kept.csv"
    result = clean_xy(data_csv, out, "--epochs", EPOCHS, "--threshold", "0.4", "--drop")
    assert result.returncode == 0, result.stderr
    assert "rows flagged as outliers" in result.stderr
    _, kept = read_csv(out)
    # Same seed, same fit: exactly the unflagged rows of the full run.
    assert kept == [r for r in all_rows if r[5] == "0"]
    assert len(kept) <= len(all_rows) - 15


def test_clean_groups_each_scores_every_target(tmp_path):
    values = contaminated_rows(n_targets=2, seed=1)
    data = write_csv(
        tmp_path / "two.csv", ["x0", "x1", "t1", "t2"], [list(r) for r in values]
    )
    out = tmp_path / "out.csv"
    result = run_cli(
        "clean",
        data,
        "--target",
        "t1",
        "--target",
        "t2",
        "--groups",
        "each",
        "--out",
        out,
        "--epochs",
        EPOCHS,
        "--seed",
        "3",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    header, rows = read_csv(out)
    assert header[4:] == [
        "outlier_score",
        "outlier",
        "outlier_score_t1",
        "outlier_t1",
        "outlier_score_t2",
        "outlier_t2",
    ]
    s1 = np.array([float(r[6]) for r in rows])
    s2 = np.array([float(r[8]) for r in rows])
    # Only t1 was corrupted (rows 0..14): t1's latent flags them, t2's mostly not.
    assert s1[:15].min() > 0.5
    assert np.median(s2[:15]) < 0.2
    assert np.sum(s2[:15] > 0.5) <= 3


def bad_inputs(tmp_path):
    good = [[1.0, 2.0, 3.0], [2.0, 1.0, 0.5], [0.5, 0.1, 2.0], [3.0, 2.5, 1.0]]
    header = ["a", "b", "y"]
    cases = {}
    cases["missing column"] = (
        write_csv(tmp_path / "ok.csv", header, good),
        ["--target", "price"],
        "'price' not found",
    )
    cases["text column"] = (
        write_csv(
            tmp_path / "text.csv",
            ["a", "colour", "y"],
            [[1, "red", 2], [2, "blue", 3], [3, "red", 1]],
        ),
        ["--target", "y"],
        "non-numeric (categorical or text) column(s) 'colour'",
    )
    cases["text target"] = (
        write_csv(
            tmp_path / "text_target.csv",
            header,
            [[1, 2, "high"], [2, 1, "low"], [3, 3, "low"]],
        ),
        ["--target", "y"],
        "column(s) 'y'",
    )
    cases["NaN"] = (
        write_csv(tmp_path / "nan.csv", header, [[1, 2, 3], [2, "nan", 3], [4, 5, 6]]),
        ["--target", "y"],
        "missing or non-finite values (empty, NaN or inf) in column(s) 'b'",
    )
    cases["empty cell"] = (
        write_csv(tmp_path / "hole.csv", header, [[1, 2, 3], [2, 1, ""], [4, 5, 6]]),
        ["--target", "y"],
        "in column(s) 'y' ('y': 'empty' on line 3)",
    )
    (tmp_path / "empty.csv").write_text("")
    cases["empty file"] = (tmp_path / "empty.csv", ["--target", "y"], "is empty")
    cases["header only"] = (
        write_csv(tmp_path / "header.csv", header, []),
        ["--target", "y"],
        "no data rows",
    )
    cases["ragged row"] = (
        write_csv(tmp_path / "ragged.csv", header, [[1, 2, 3], [1, 2], [4, 5, 6]]),
        ["--target", "y"],
        "line 3 has 2 fields; the header has 3",
    )
    cases["no such file"] = (tmp_path / "nope.csv", ["--target", "y"], "does not exist")
    cases["bad output directory"] = (
        tmp_path / "ok.csv",
        ["--target", "y", "--out", tmp_path / "no_dir" / "out.csv"],
        "output directory",
    )
    cases["target as feature"] = (
        tmp_path / "ok.csv",
        ["--target", "y", "--features", "a", "y"],
        "'y' are both --target and --features",
    )
    return cases


CASES = [
    "missing column",
    "text column",
    "text target",
    "NaN",
    "empty cell",
    "empty file",
    "header only",
    "ragged row",
    "no such file",
    "bad output directory",
    "target as feature",
]


@pytest.mark.parametrize("case", CASES)
def test_clean_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    data, args, message = bad_inputs(tmp_path)[case]
    if "--out" not in args:
        args = [*args, "--out", tmp_path / "out.csv"]
    result = run_cli_in_process(
        capsys, "clean", data, *args, "--epochs", "2", "--quiet"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sk-deepgum clean: error: ")
    assert message in lines[0]
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threshold", "1.5"], "must be in (0, 1)"),
        (["--epochs", "0"], "must be >= 1"),
        (["--groups", "pairs"], "invalid choice"),
    ],
)
def test_clean_bad_option_is_a_usage_error(data_csv, tmp_path, capsys, args, message):
    result = run_cli_in_process(
        capsys, "clean", data_csv, "--target", "y", "--out", tmp_path / "o.csv", *args
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_clean_bad_device_is_one_line_and_exit_2(data_csv, tmp_path, capsys):
    out = tmp_path / "o.csv"
    result = run_cli_in_process(
        capsys,
        "clean",
        data_csv,
        "--target",
        "y",
        "--features",
        "x0",
        "x1",
        "--out",
        out,
        "--device",
        "gpu0",
        "--quiet",
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "device must be 'cpu', 'cuda', 'cuda:N', 'auto'" in lines[0]
    assert "'gpu0'" in lines[0]
    assert not out.exists()
