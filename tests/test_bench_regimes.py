"""Pure helpers of benchmarks/bench_regimes.py and its laws (benchmarks/_laws.py):
the linear law and the targets."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
bench = pytest.importorskip("bench_regimes")
laws = pytest.importorskip("_laws")
report = pytest.importorskip("_report")


def settings(**changes):
    args = bench.parse_args(["--quick"])
    base = bench.make_settings(args)
    return base.__class__(**{**base.__dict__, **changes})


def test_linear_law_is_the_published_formula():
    beta = np.array([1.0, -0.5, 0.25, 2.0, -1.5])
    assert laws.linear_spread() == pytest.approx(math.sqrt(beta @ beta + 0.25))
    low, high = laws.linear_box()
    assert (low, high) == pytest.approx((1 - 5 * 2.7951, 1 + 5 * 2.7951), abs=1e-3)

    data = laws.linear_law(101, 0.2, seed=7)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((101, 5))
    y = X @ beta + 1 + 0.5 * rng.standard_normal(101)
    rows = rng.choice(101, round(0.2 * 101), replace=False)
    y[rows] = rng.uniform(low, high, size=len(rows))
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_allclose(data.y_noiseless, X @ beta + 1)
    np.testing.assert_array_equal(data.y, y)
    assert data.outlier_mask.sum() == 20 and data.outlier_mask[rows].all()
    assert ((data.y[rows] >= low) & (data.y[rows] <= high)).all()


def test_clean_test_set_is_noiseless():
    test = laws.clean_test_set("linear")
    assert test.X.shape == (2000, 5) and not test.outlier_mask.any()
    np.testing.assert_array_equal(test.y, test.y_noiseless)


def row(method, rmse, seconds, law="linear", n=10_000, rate=0.2, seed=0):
    return {
        "section": bench.SECTION,
        "law": law,
        "n": n,
        "rate": rate,
        "seed": seed,
        "method": method,
        "rmse": rmse,
        "fit_seconds": seconds,
    }


def test_accuracy_and_speed_targets_on_synthetic_rows():
    s = settings(quick=False, sizes=(20, 10_000), rates=(0.0, 0.2), seeds=(0, 1))
    rows = []
    for seed in (0, 1):
        rows += [
            row("deepgum", 1.2, 2.0, seed=seed),  # 1.2 / 1.0 <= 1.25: PASS
            row("oracle", 1.0, 1.0, seed=seed),
            row("mlp", 0.5, 3.0, seed=seed),  # 2.0 / 3.0 <= 1: PASS
            row("deepgum", 1.1, 4.0, rate=0.0, seed=seed),  # 1.1 / 1.0 > 1.05
            row("mlp", 1.0, 3.0, rate=0.0, seed=seed),  # 4 / 3 > 1: FAIL
            row("deepgum", 9.0, 1.0, n=20, seed=seed),  # n < 50: no target
            row("oracle", 1.0, 1.0, n=20, seed=seed),
        ]
    acc = {c["check"]: c["verdict"] for c in bench.accuracy_checks(rows, s)}
    assert acc["accuracy linear n=10000 rate=0.2"] == "PASS"
    assert acc["accuracy linear n=10000 rate=0"] == "FAIL"
    assert acc["accuracy tabular n=10000 rate=0.2"] == "n/a"
    assert not any("n=20 " in k for k in acc)
    speed = {c["check"]: c["verdict"] for c in bench.speed_checks(rows, s)}
    assert speed["speed linear n=10000 rate=0.2"] == "PASS"
    assert speed["speed linear n=10000 rate=0"] == "FAIL"
    quick = bench.speed_checks(rows, settings(sizes=(10_000,), rates=(0.2,)))
    assert [c["verdict"] for c in quick][0] == "info (PASS)"


def test_small_clean_targets():
    s = settings(quick=False, small_sizes=(10,), small_states=(0, 1, 2))

    def fit(table, state, flagged):
        return {
            "section": bench.SMALL,
            "n": 10,
            "table": table,
            "seed": state,
            "n_flagged": len(flagged),
            "flagged_rows": flagged,
        }

    rows = [fit(0, k, [3]) for k in range(3)] + [fit(1, k, []) for k in range(3)]
    tables = bench.small_tables(rows)
    assert [t["identical"] for t in tables] == [True, True]
    assert [c["verdict"] for c in bench.small_checks(tables, s)] == ["PASS", "PASS"]
    rows[-1] = fit(1, 2, [0, 4])  # two rows flagged, and another set
    checks = bench.small_checks(bench.small_tables(rows), s)
    assert [c["verdict"] for c in checks] == ["FAIL", "FAIL"]
    assert checks[0]["value"] == "max 2" and checks[1]["value"] == "1/2 tables"


def test_a_missed_target_is_printed_with_the_numbers_beside_it():
    s = settings(quick=False, sizes=(10_000,), rates=(0.0, 0.4), seeds=(0, 1))
    rows = []
    for seed, gum in ((0, 1.2), (1, 1.8)):  # per seed 1.2 and 1.8: mean 1.5 > 1.25
        rows += [
            {**row("deepgum", gum, 2.0, rate=0.4, seed=seed), "n_iter": 100}
            | {"false_positives": 2 * seed, "n_outliers": 40, "true_positives": 30},
            row("oracle", 1.0, 1.0, rate=0.4, seed=seed),
            row("tukey", 3.0, 1.0, rate=0.4, seed=seed),
            row("mlp", 4.0, 1.0, rate=0.4, seed=seed),
            {**row("deepgum", 0.5, 4.0, rate=0.0, seed=seed), "n_iter": 100},
            {**row("mlp", 1.0, 1.0, rate=0.0, seed=seed), "n_iter": 20 + 10 * seed},
        ]
    checks = bench.accuracy_checks(rows, s) + bench.speed_checks(rows, s)
    text = "\n".join(report.losses(checks))
    assert "accuracy linear n=10000 rate=0.4: 1.5 " in text
    # The ratio seed by seed, the others against the same oracle, the flags.
    assert "per seed 1.2 / 1.8; against the same oracle: tukey 3x, mlp 4x" in text
    assert "flags 1 clean rows and misses 10 of 40 outliers" in text
    # MLPRegressor's early stop beside DeepGUM's budget and errors.
    assert "MLPRegressor stops after 25 iterations on average" in text
    assert "DeepGUM runs 100 epochs to 0.5, 0.5x MLPRegressor's error" in text
    # A passing check is not listed.
    assert "accuracy linear n=10000 rate=0:" not in text


def test_unstable_small_table_is_named_with_its_sets():
    s = settings(quick=False, small_sizes=(10,), small_states=(0, 1))
    rows = [
        {
            "section": bench.SMALL,
            "n": 10,
            "table": 3,
            "seed": state,
            "n_flagged": len(flagged),
            "flagged_rows": flagged,
        }
        for state, flagged in ((0, [2]), (1, [5]))
    ]
    text = "\n".join(report.losses(bench.small_checks(bench.small_tables(rows), s)))
    assert "data seed 3: flagged sets [2] / [5] ([1, 1] rows per random state)" in text
