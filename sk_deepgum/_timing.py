"""Wall-clock seconds per phase of a fit, reported as ``fit_seconds_``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch

#: The phases of a fit, in the order a round runs them: SGD epochs, the forward
#: pass over the rows that gives the residuals, and the EM on those residuals
#: (with the E-step that turns them into loss weights and scores).
PHASES = ("sgd", "residual_pass", "em")


class PhaseTimer:
    """Accumulate wall-clock seconds per phase.

    On a CUDA device each phase starts and ends with ``torch.cuda.synchronize``:
    kernels run asynchronously, and without it a phase's time would be charged to
    whichever phase next waits for the device. Phases are coarse (an epoch, a
    pass over the rows, an EM fit), so the synchronisations cost nothing
    measurable.
    """

    def __init__(self, device: torch.device | str):
        self.seconds = dict.fromkeys(PHASES, 0.0)
        device = torch.device(device)
        self._device = device if device.type == "cuda" else None

    def _sync(self) -> None:
        if self._device is not None:
            torch.cuda.synchronize(self._device)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Charge the time spent in the ``with`` block to ``name``."""
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.seconds[name] += time.perf_counter() - start
