"""What a network fit prints, by ``verbose`` level, on standard error.

- 0: nothing.
- 1: a progress bar over epochs on a terminal; in a log (stderr redirected to a file
  or a pipe, where a bar's carriage returns would write every refresh as a line) a
  line when the fit starts and one when it ends instead. Notices, such as an early
  stop and the epoch whose network was restored, are printed at this level too.
- 2: besides, one line per epoch (loss, and the schedule's own summary, e.g.
  DeepGUM's inlier prior) and one per hold-out check.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm.auto import tqdm


class FitProgress:
    """Progress reporting of one fit.

    Parameters
    ----------
    desc : str
        Name printed in front of every line (the estimator or loss).
    total : int
        Epoch budget (``max_epochs``).
    verbose : int
        Verbosity level (see the module docstring).
    enabled : bool, default=True
        False silences every level (the processes of a data-parallel fit other than
        the first).
    """

    def __init__(self, desc: str, total: int, verbose: int, enabled: bool = True):
        self.desc = desc
        self.total = total
        self.verbose = int(verbose) if enabled else 0
        self.stream = sys.stderr
        self.epochs = 0
        self.loss = float("nan")
        self._started = time.perf_counter()
        interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar = None
        if self.verbose >= 1 and interactive:
            self._bar = tqdm(total=total, desc=desc, unit="epoch", file=self.stream)
        elif self.verbose >= 1:
            self._line(f"fitting, at most {total} epochs")

    def _line(self, text: str) -> None:
        text = f"{self.desc}: {text}"
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def epoch(self, loss: float, describe: Callable[[], str] | None = None) -> None:
        """Report the end of an epoch with its training loss."""
        self.epochs += 1
        self.loss = loss
        summary = f"loss {loss:.4g}" + (f", {describe()}" if describe else "")
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(summary, refresh=False)
        if self.verbose >= 2:
            self._line(f"epoch {self.epochs}/{self.total}: {summary}")

    def check(self, text: str) -> None:
        """Report a hold-out check (verbose >= 2)."""
        if self.verbose >= 2:
            self._line(text)

    def message(self, text: str) -> None:
        """Report a notice such as an early stop (verbose >= 1)."""
        if self.verbose >= 1:
            self._line(text)

    def close(self) -> None:
        """End the bar, or print the closing line in a log."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.verbose >= 1:
            elapsed = time.perf_counter() - self._started
            self._line(
                f"done, {self.epochs} epochs in {elapsed:.1f} s, "
                f"last training loss {self.loss:.4g}"
            )
