"""The per-batch training loop keeps skorch's semantics.

The inner net skips generic costs of skorch's loop (setting every submodule's
mode before every batch when it is already set, measuring the batch with skorch's
``get_len``, and, in an epoch no callback listens to per batch, the per-batch
notifications and device syncs). What skorch promises must still hold, observed
through the public ``callbacks`` parameter: every forward of a training step runs in
training mode, even after a callback switched a submodule to evaluation mode; the
history records every batch's loss and row count; and an epoch trains the same
whether or not a callback listens to its batches.
"""

import math

import numpy as np
import pytest
import torch
from conftest import table
from skorch.callbacks import Callback
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

ESTIMATORS = [RobustNetRegressor, DeepGUMRegressor]


class DropoutNet(nn.Module):
    def __init__(self, n_inputs=3, n_outputs=1):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_inputs, 8), nn.ReLU(), nn.Dropout(0.1))
        self.out = nn.Linear(8, n_outputs)

    def forward(self, X):
        return self.out(self.hidden(X))


class ModeSwitcher(Callback):
    """Switches the dropout layer to evaluation mode before every batch, and
    records each submodule's mode when the step's gradients are computed."""

    def initialize(self):
        self.modes = []
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            net.module_.hidden[2].eval()

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        if training:
            self.modes.append([m.training for m in net.module_.modules()])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_every_training_step_runs_in_training_mode(Estimator):
    """skorch sets training mode after ``on_batch_begin``, so a callback that
    switches a submodule off is undone before the forward."""
    model = Estimator(
        module=DropoutNet,
        callbacks=[("switch", ModeSwitcher())],
        max_epochs=2,
        min_rows_per_epoch=0,
        batch_size=16,
        random_state=0,
    ).fit(*table(64))
    modes = dict(model.net_.callbacks_)["switch"].modes
    assert len(modes) == 2 * 4
    assert all(all(step) for step in modes)


class ModeRecorder(nn.Module):
    """Records the training flag of every forward on more than 2 rows (the output
    probe at set-up is left out)."""

    modes: list = []

    def __init__(self, n_inputs=3, n_outputs=1):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_outputs)

    def forward(self, X):
        if len(X) > 2:
            ModeRecorder.modes.append(self.training)
        return self.linear(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_an_epoch_without_batch_listeners_trains_in_training_mode(Estimator):
    """The lean epoch (no per-batch callback) puts the modules in training mode; the
    residual passes of DeepGUM run in evaluation mode."""
    ModeRecorder.modes = []
    Estimator(
        module=ModeRecorder,
        max_epochs=2,
        min_rows_per_epoch=0,
        batch_size=16,
        swa_start=None,
        random_state=0,
    ).fit(*table(64))
    training = [mode for mode in ModeRecorder.modes if mode]
    assert len(training) == 2 * 4
    if Estimator is RobustNetRegressor:
        assert all(ModeRecorder.modes)


class BatchListener(Callback):
    """Listens to every batch and does nothing: its presence sends the epochs
    through skorch's per-batch path."""

    def on_batch_end(self, net, **kwargs):
        pass


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "optimizer",
    [{}, {"optimizer": torch.optim.LBFGS, "optimizer__weight_decay": 0, "lr": 0.1}],
)
def test_an_epoch_trains_the_same_with_or_without_a_batch_listener(
    Estimator, optimizer
):
    """The lean epoch (no per-batch callback) against skorch's per-batch path: same
    weights, same per-batch history. LBFGS evaluates its closure several times per
    step; the loss recorded is the first evaluation's, as skorch records it."""
    X, y = table(96)
    kwargs = dict(max_epochs=3, min_rows_per_epoch=0, batch_size=32, random_state=0)
    kwargs.update(optimizer)
    lean = Estimator(**kwargs).fit(X, y)
    observed = Estimator(callbacks=[("listen", BatchListener())], **kwargs).fit(X, y)
    np.testing.assert_array_equal(lean.predict(X), observed.predict(X))
    for lean_epoch, observed_epoch in zip(
        lean.net_.history, observed.net_.history, strict=True
    ):
        assert lean_epoch["batches"] == observed_epoch["batches"]
        assert lean_epoch["train_batch_count"] == observed_epoch["train_batch_count"]
        assert lean_epoch["train_loss"] == observed_epoch["train_loss"]


class StepPreHookRecorder(Callback):
    """Registers an optimizer step pre-hook (on the net's optimizer, or for every
    optimizer) that records the first parameter's gradient as the hook sees it."""

    def __init__(self, where="optimizer"):
        self.where = where

    def initialize(self):
        self.seen = []
        return self

    def on_train_begin(self, net, **kwargs):
        first = next(net.module_.parameters())

        def hook(optimizer, args, kwargs):
            self.seen.append(None if first.grad is None else first.grad.clone())

        if self.where == "optimizer":
            self.handle = net.optimizer_.register_step_pre_hook(hook)
        else:
            self.handle = register_optimizer_step_pre_hook(hook)

    def on_train_end(self, net, **kwargs):
        self.handle.remove()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("where", ["optimizer", "global"])
def test_a_step_pre_hook_sees_the_gradients_skorch_shows_it(Estimator, where):
    """skorch calls ``optimizer.step(closure)``: a step pre-hook runs before the
    closure, so it sees the previous step's gradients (none at the first step); so
    it does in the lean epoch. The hook is removed at ``on_train_end``."""
    X, y = table(96)
    kwargs = dict(max_epochs=2, min_rows_per_epoch=0, batch_size=32, random_state=0)
    lean = Estimator(callbacks=[("hook", StepPreHookRecorder(where))], **kwargs)
    observed = Estimator(
        callbacks=[("hook", StepPreHookRecorder(where)), ("listen", BatchListener())],
        **kwargs,
    )
    seen = []
    for model in (lean, observed):
        model.fit(X, y)
        seen.append(dict(model.net_.callbacks_)["hook"].seen)
    assert len(seen[0]) == len(seen[1]) == 2 * 3
    assert seen[0][0] is None
    for lean_grad, observed_grad in zip(seen[0][1:], seen[1][1:], strict=True):
        torch.testing.assert_close(lean_grad, observed_grad, rtol=0, atol=0)
    np.testing.assert_array_equal(lean.predict(X), observed.predict(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(("n_rows", "floor"), [(70, 0), (20, 1000), (1500, 1000)])
def test_the_history_records_every_batch(Estimator, n_rows, floor):
    X, y = table(n_rows)
    model = Estimator(
        max_epochs=2, min_rows_per_epoch=floor, batch_size=32, random_state=0
    ).fit(X, y)
    for epoch in model.net_.history:
        sizes = [batch["train_batch_size"] for batch in epoch["batches"]]
        visited = max(n_rows, floor)
        whole_set = floor > n_rows and n_rows <= 32
        expected_count = math.ceil(visited / 32)
        assert epoch["train_batch_count"] == expected_count == len(sizes)
        if whole_set:
            assert sizes == [n_rows] * expected_count
        else:
            assert sum(sizes) == visited
            assert max(sizes) - min(sizes) <= 1
        losses = [batch["train_loss"] for batch in epoch["batches"]]
        assert np.all(np.isfinite(losses))
        # skorch's epoch loss is the batch-size-weighted mean of the batch losses.
        assert epoch["train_loss"] == pytest.approx(
            np.average(losses, weights=sizes), rel=1e-6
        )


def test_a_module_that_keeps_a_submodule_in_eval_mode_is_respected():
    """A backbone whose own ``train()`` keeps a layer in evaluation mode (frozen
    batch-norm statistics, a common fine-tuning idiom) keeps it so in every step."""

    class FrozenNorm(nn.Module):
        def __init__(self, n_inputs=3, n_outputs=1):
            super().__init__()
            self.norm = nn.BatchNorm1d(n_inputs)
            self.out = nn.Linear(n_inputs, n_outputs)

        def train(self, mode=True):
            super().train(mode)
            self.norm.eval()
            return self

        def forward(self, X):
            return self.out(self.norm(X))

    X, y = table(64)
    model = RobustNetRegressor(
        module=FrozenNorm, max_epochs=2, batch_size=16, random_state=0
    ).fit(X, y)
    norm = model.net_.module_.norm
    # Frozen statistics: the running mean never moved from its initial zeros.
    assert torch.equal(norm.running_mean, torch.zeros(3))
    assert norm.num_batches_tracked.item() == 0


class Counter(Callback):
    """Counts the per-batch notifications it receives while training, and the rows
    of the batch each one names."""

    def initialize(self):
        self.calls = {"begin": 0, "end": 0, "grad": 0}
        self.rows = {"begin": [], "end": [], "grad": []}
        self.nets = set()
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.calls["begin"] += training
        self.rows["begin"].append(len(batch[1]))
        self.nets.add(id(net))

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self.calls["end"] += training and "loss" in kwargs and "y_pred" in kwargs
        self.rows["end"].append(len(batch[1]))
        self.nets.add(id(net))

    def on_grad_computed(
        self, net, named_parameters, batch=None, training=False, **kwargs
    ):
        self.calls["grad"] += training and len(list(named_parameters)) > 0
        self.rows["grad"].append(len(batch[1]))
        self.nets.add(id(net))


class GradientOnly(Callback):
    """Listens only to the gradients (as GradientNormClipping does): an epoch with
    it must still call on_grad_computed at every step."""

    def initialize(self):
        self.steps = 0
        return self

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        self.steps += training and len(list(named_parameters)) > 0


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_gradient_listener_hears_every_step(Estimator):
    model = Estimator(
        callbacks=[("grad", GradientOnly())],
        max_epochs=3,
        min_rows_per_epoch=0,
        batch_size=16,
        random_state=0,
    ).fit(*table(64))
    assert dict(model.net_.callbacks_)["grad"].steps == 3 * 4


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_callback_hears_every_training_batch(Estimator):
    """The loop notifies only the callbacks that define a per-batch method; one that
    does gets every call skorch makes: 3 epochs of ceil(70 / 16) = 5 batches."""
    model = Estimator(
        callbacks=[("count", Counter())],
        max_epochs=3,
        min_rows_per_epoch=0,
        batch_size=16,
        random_state=0,
    ).fit(*table(70))
    counter = dict(model.net_.callbacks_)["count"]
    assert counter.calls == {"begin": 15, "end": 15, "grad": 15}
    # Each hears the batch itself: 70 rows in 5 batches of at most 16 rows are
    # 5 batches of 14.
    expected = [14] * 15
    assert counter.rows == {"begin": expected, "end": expected, "grad": expected}
    assert counter.nets == {id(model.net_)}


class WholeModuleOff(ModeSwitcher):
    """Puts the whole backbone in evaluation mode before every batch."""

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            net.module_.eval()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_backbone_switched_off_entirely_trains_in_training_mode(Estimator):
    """Every submodule in evaluation mode at a batch's start is still switched
    back before the forward, as skorch's unconditional ``train()`` does."""
    model = Estimator(
        module=DropoutNet,
        callbacks=[("off", WholeModuleOff())],
        max_epochs=2,
        min_rows_per_epoch=0,
        batch_size=16,
        random_state=0,
    ).fit(*table(64))
    modes = dict(model.net_.callbacks_)["off"].modes
    assert len(modes) == 2 * 4
    assert all(all(step) for step in modes)


class EvaluatesAtEpochEnd(Callback):
    """Calls skorch's ``evaluation_step`` on a few rows after every epoch."""

    def initialize(self):
        self.shapes = []
        return self

    def on_epoch_end(self, net, **kwargs):
        X = torch.zeros((5, 3))
        batch = ({"X": X, "index": torch.arange(5)}, torch.zeros((5, 1)))
        self.shapes.append(tuple(net.evaluation_step(batch, training=False).shape))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_skorch_evaluation_step_works_between_epochs(Estimator):
    """Between epochs (outside the per-epoch listing of submodules) skorch's own
    evaluation step still sets the modes and predicts, and training resumes in
    training mode."""
    model = Estimator(
        module=DropoutNet,
        callbacks=[("evaluate", EvaluatesAtEpochEnd()), ("modes", ModeSwitcher())],
        max_epochs=3,
        min_rows_per_epoch=0,
        batch_size=16,
        random_state=0,
    ).fit(*table(64))
    callbacks = dict(model.net_.callbacks_)
    assert callbacks["evaluate"].shapes == [(5, 1)] * 3
    assert all(all(step) for step in callbacks["modes"].modes)


def test_a_training_step_outside_fit_still_notifies_its_listeners():
    """skorch's public ``train_step`` called on a fitted net, outside any epoch of
    ``fit``, still tells the callbacks that listen to gradients."""
    model = RobustNetRegressor(
        callbacks=[("count", Counter())],
        max_epochs=1,
        min_rows_per_epoch=0,
        batch_size=16,
        random_state=0,
    ).fit(*table(32))
    counter = dict(model.net_.callbacks_)["count"]
    assert counter.calls["grad"] == 2
    # After fit the loss keeps a one-row weight placeholder: index row 0.
    batch = (
        {"X": torch.zeros((4, 3)), "index": torch.zeros(4, dtype=torch.long)},
        torch.zeros((4, 1)),
    )
    model.net_.train_step(batch)
    assert counter.calls["grad"] == 3
    assert counter.rows["grad"][-1] == 4
