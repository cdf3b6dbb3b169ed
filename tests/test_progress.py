"""What ``verbose`` prints, in a log (stderr not a terminal) and on a terminal."""

import io
import re
import sys

import numpy as np
import pytest

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

ESTIMATORS = [
    RobustNetRegressor(max_epochs=4, random_state=0),
    DeepGUMRegressor(max_epochs=4, warm_up_epochs=1, random_state=0),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    return X, X[:, 0] + 0.1 * rng.normal(size=64)


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_verbose_levels_in_a_log(estimator, data, capsys):
    estimator.set_params(verbose=0).fit(*data)
    assert capsys.readouterr().err == ""

    estimator.set_params(verbose=1).fit(*data)
    err = capsys.readouterr().err
    lines = err.splitlines()
    # A log gets whole lines, no carriage-return redraws: a start and an end.
    assert "\r" not in err
    assert len(lines) == 2
    assert "at most 4 epochs" in lines[0] and "done, 4 epochs" in lines[1]

    estimator.set_params(verbose=2).fit(*data)
    lines = capsys.readouterr().err.splitlines()
    epochs = [line for line in lines if re.search(r"epoch \d/4: loss", line)]
    assert [re.search(r"epoch (\d)/4", line)[1] for line in epochs] == list("1234")
    assert len(lines) == 2 + 4
    # DeepGUM's lines add the inlier prior: 1 during the warm-up epoch (no mixture
    # yet), then the one the last EM round learnt.
    if isinstance(estimator, DeepGUMRegressor):
        priors = [re.search(r", inlier prior (\d\.\d{3})$", line) for line in epochs]
        assert all(priors)
        assert priors[0][1] == "1.000"
        assert {match[1] for match in priors[1:]} != {"1.000"}
    else:
        assert all(re.search(r"epoch \d/4: loss \S+$", line) for line in epochs)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_a_terminal_gets_a_progress_bar(estimator, data, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    estimator.set_params(verbose=1).fit(*data)
    out = terminal.getvalue()
    assert "\r" in out and "4/4" in out
