"""When a network fit stops and which weights it returns.

:class:`StoppingMixin` holds the rules the schedules of
:class:`~sk_deepgum._base.NetRegressorBase` apply after an epoch or an EM round:
stochastic weight averaging (``swa_start``), early stopping on a hold-out score
(``validation_fraction``, ``n_iter_no_change``) with the best network restored, and
the convergence stop without a hold-out (``tol``). They read the estimator's
parameters and write only the fit's :class:`~sk_deepgum._training.FitState`.
"""

from __future__ import annotations

import copy
import math

from torch.optim.swa_utils import AveragedModel

from sk_deepgum._training import FitState


class StoppingMixin:
    """Stopping and weight-averaging rules of the network estimators (see the
    module docstring); mixed into :class:`~sk_deepgum._base.NetRegressorBase`."""

    def _update_weight_average(self, state: FitState) -> None:
        """Stochastic weight averaging over the last epochs (``swa_start``).

        From epoch :math:`e_0 = \\lfloor s \\cdot E \\rfloor + 1` on (:math:`s` =
        ``swa_start``, :math:`E` = ``max_epochs``) the end-of-epoch weights enter an
        equal-weight running mean, :math:`\\bar\\theta_m = \\bar\\theta_{m-1} +
        (\\theta_m - \\bar\\theta_{m-1}) / m` (``torch.optim.swa_utils.AveragedModel``;
        float buffers such as batch-norm statistics are averaged alike). After epoch
        :math:`E` the mean replaces the weights, so every later residual, EM round
        and prediction uses it. A fit that stops early never reaches :math:`E` and
        keeps its restored best weights.
        """
        if self.swa_start is None or state.streaming:
            return
        first_epoch = math.floor(self.swa_start * self.max_epochs) + 1
        if state.epochs_run < first_epoch:
            return
        module = state.net.module_
        if state.weight_average is None:
            state.weight_average = AveragedModel(module, use_buffers=True)
        state.weight_average.update_parameters(module)
        if state.epochs_run == self.max_epochs:
            self._end_weight_average(state)

    def _early_stopping_step(
        self, state: FitState, score: float, extra: object = None
    ) -> bool:
        """Record a hold-out check; return True when the patience is exhausted.

        A check improves when :math:`s < s^* - 10^{-4} |s^*|` (:math:`s^*` the best
        score so far; the first finite score always improves). The network, the
        epoch and ``extra`` (what the schedule needs to describe that network, e.g.
        DeepGUM's mixture) are kept for :meth:`_restore_best`.
        """
        best = state.best_score
        improved = math.isfinite(score) and (
            not math.isfinite(best) or score < best - 1e-4 * abs(best)
        )
        if improved:
            state.best_score = score
            state.best_state = copy.deepcopy(state.net.module_.state_dict())
            state.best_epoch = state.epochs_run
            state.best_extra = extra
            state.rounds_without_improvement = 0
            return False
        state.rounds_without_improvement += 1
        state.stopped_early = (
            state.rounds_without_improvement >= self.n_iter_no_change
            and state.epochs_run < self.max_epochs
        )
        return state.rounds_without_improvement >= self.n_iter_no_change

    def _restore_best(self, state: FitState) -> bool:
        """Return to the best checked network when the last check was not it.

        ``n_iter_`` then counts the epochs of the returned network (``history_``
        keeps every check). Returns whether a network was restored.
        """
        if state.best_state is None or state.rounds_without_improvement == 0:
            return False
        state.net.module_.load_state_dict(state.best_state)
        last_epoch = state.epochs_run
        state.epochs_run = state.best_epoch
        if state.progress is not None:
            reason = (
                f"stopped early at epoch {last_epoch}: no hold-out improvement in "
                f"{state.rounds_without_improvement} checks"
                if state.stopped_early
                else f"the last check (epoch {last_epoch}) was not the best"
            )
            state.progress.message(
                f"{reason}; restored the network of epoch {state.best_epoch} "
                f"(hold-out score {state.best_score:.6g})."
            )
        return True

    def _converged(self, state: FitState, objective: float, what: str) -> bool:
        """Record the training objective (higher is better) of the last epoch or
        round; return True when the fit should stop as converged.

        Only without a hold-out and with ``tol`` set (as ``MLPRegressor``'s
        ``tol``): a check improves when :math:`J > J^* + \\mathrm{tol}` (:math:`J^*`
        the best objective so far; the first finite one always improves), and the
        fit stops after ``n_iter_no_change`` consecutive checks without improvement,
        unless ``max_epochs`` ends it anyway.
        """
        if self.tol is None or state.X_valid is not None:
            return False
        if math.isfinite(objective) and objective > state.best_objective + self.tol:
            state.best_objective = objective
            state.checks_without_progress = 0
            return False
        state.checks_without_progress += 1
        if (
            state.checks_without_progress < self.n_iter_no_change
            or state.epochs_run >= self.max_epochs
        ):
            return False
        if state.progress is not None:
            state.progress.message(
                f"converged at epoch {state.epochs_run}: the {what} improved by no "
                f"more than tol={self.tol:g} in {state.checks_without_progress} checks."
            )
        return True

    @staticmethod
    def _end_weight_average(state: FitState) -> bool:
        """The running weight average (``swa_start``), if it has started, replaces
        the weights: after ``max_epochs``, or at a convergence stop. Returns
        whether it did."""
        if state.weight_average is None:
            return False
        state.net.module_.load_state_dict(state.weight_average.module.state_dict())
        state.weight_average = None
        return True
