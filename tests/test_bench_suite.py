"""Report helpers of benchmarks/bench_suite.py: the classic-table targets and the
quoted regimes summary."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
suite = pytest.importorskip("bench_suite")


def fit(method, seed, flagged, auc):
    return {
        "task": "classic:t",
        "method": method,
        "seed": seed,
        "flagged_rows": flagged,
        "auc": auc,
    }


def verdicts(lines):
    """{method: [cells]} of the checks table."""
    table = [line for line in lines if line.startswith("| ") and "---" not in line]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table[1:]]
    return {c[0]: c[1:] for c in cells}


def test_classic_targets_count_seeds_false_positives_and_sets():
    documented = (1, 2)
    rows = [
        fit("deepgum", 0, [1, 2], 1.0),
        fit("deepgum", 1, [1, 2, 7, 8, 9], 1.0),  # 3 false positives > 10 % of 25
        fit("deepgum", 2, [1], 0.9),  # row 2 ranked below a clean row
        fit("tukey", 0, [1, 2], 1.0),
    ]
    table = verdicts(suite.classic_checks(rows, "classic:t", 25, documented))
    assert table["deepgum"] == ["2/3", "3 (at most 2)", "3", "FAIL, FAIL, FAIL"]
    assert table["tukey"] == ["1/1", "0 (at most 2)", "1", "reference"]

    rows = [fit("deepgum", s, [1, 2, 5], 1.0) for s in range(5)]
    table = verdicts(suite.classic_checks(rows, "classic:t", 25, documented))
    assert table["deepgum"] == ["5/5", "1 (at most 2)", "1", "PASS, PASS, PASS"]


def test_regimes_summary_is_quoted_with_the_numbers_beside_each_miss():
    text = "\n".join(suite.regimes_lines())
    committed = (suite.HERE / "results_regimes.md").read_text()
    first_check = next(
        line for line in committed.splitlines() if line.startswith("| accuracy")
    )
    assert first_check in text
    assert "Where we lose" in text or "nowhere among the targets" in text
    assert "Cells whose fit raised" not in text
