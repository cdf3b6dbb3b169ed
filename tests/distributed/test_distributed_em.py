"""Distributed EM: two gloo processes, each holding part of the rows, fit one mixture.

``fit_gum(..., process_group=...)`` sums the EM sufficient statistics across the
group; both processes must end with the mixture a single process fits on all rows.
The same processes also run the data-parallel training recipe of docs/scaling.rst
(DistributedDataParallel, loss weights from the shared mixture).
"""

import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import free_port
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sk_deepgum.datasets import make_contaminated_regression
from sk_deepgum.mixture import (
    check_groups,
    estimate_inlier_logit,
    fit_gum,
    make_grouping,
)

N_ROWS = 301
SPLIT = 120  # uneven shards: rank 0 holds rows [0, 120), rank 1 rows [120, 301)
WORLD_SIZE = 2

# (covariance_type, uniform, df, groups, weighted, fit_mean, dtype): every kind of
# statistic that crosses processes — per-column sums, per-group scatter matrices,
# Student-t scale-weighted sums, min/max for the range box, weighted quantiles.
# weighted: False, True, or ZERO_FIRST_SHARD (rank 0's rows all weigh 0, so its
# shard has no range of its own and the other shard supplies it).
ZERO_FIRST_SHARD = "zero first shard"
CONFIGS = [
    ("diag", "moments", None, None, False, False, torch.float64),
    ("full", "moments", 5.0, [[0, 1], [2]], True, True, torch.float64),
    ("spherical", "range", None, "each", True, False, torch.float64),
    ("diag", "moments", 5.0, "each", False, False, torch.float32),
    ("diag", "range", None, None, ZERO_FIRST_SHARD, False, torch.float64),
]


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(scale=[1.0, 0.5, 2.0], size=(N_ROWS, 3))
    outliers = rng.random(N_ROWS) < 0.25
    X[outliers] = rng.uniform(-15, 15, size=(outliers.sum(), 3))
    w = rng.uniform(0.5, 2.0, size=N_ROWS)
    return X, w


def _fit(rows, config, process_group=None) -> dict:
    covariance_type, uniform, df, groups, weighted, fit_mean, dtype = config
    X, w = _data()
    if weighted == ZERO_FIRST_SHARD:
        w[:SPLIT] = 0.0
    XT = torch.as_tensor(X[rows].T.copy(), dtype=dtype)
    sample_weight = torch.as_tensor(w[rows], dtype=dtype) if weighted else None
    grouping = make_grouping(check_groups(groups, X.shape[1]))
    result = fit_gum(
        XT,
        sample_weight,
        grouping,
        covariance_type=covariance_type,
        uniform=uniform,
        df=df,
        fit_mean=fit_mean,
        max_iter=50,
        process_group=process_group,
    )
    p = result.params
    covariances = p.covariances if covariance_type == "full" else [p.covariances]
    return {
        "inlier_prior": p.inlier_prior.numpy(),
        "means": p.means.numpy(),
        "covariances": [c.numpy() for c in covariances],
        "uniform_log_density": p.uniform_log_density.numpy(),
        "uniform_bounds": p.uniform_bounds.numpy(),
        "lower_bounds": np.array(result.lower_bounds),
        "n_iter": result.n_iter,
    }


def _train_robustly(rows, process_group=None, steps=3) -> list[np.ndarray]:
    """The DDP recipe: residuals → shared mixture → loss weights → one SGD step.

    Full-batch steps whose loss is this shard's weighted sum over the *total* row
    count, times the world size (DDP averages gradients over processes): the
    averaged gradient is then the single-process gradient on all rows.
    """
    X, y, _ = make_contaminated_regression(
        N_ROWS, 3, outlier_rate=0.25, noise=0.1, random_state=0
    )
    X = torch.as_tensor(X[rows])
    y = torch.as_tensor(y[rows])[:, None]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    model, world = net, 1
    if process_group is not None:
        model = DistributedDataParallel(net, process_group=process_group)
        world = dist.get_world_size(process_group)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    grouping = make_grouping(check_groups(None, 1))
    params = None
    for _ in range(steps):
        with torch.no_grad():
            residuals = y - net(X)  # the residual pass needs no DDP bookkeeping
        em = fit_gum(
            residuals.T.contiguous(),
            None,
            grouping,
            df=5.0,
            init_params=params,
            process_group=process_group,
        )
        params = em.params
        logit, _ = estimate_inlier_logit(
            residuals.T, params, grouping, "diag", fit_mean=False, df=5.0
        )
        weights = torch.sigmoid(logit[0])  # this shard's rows only: no exchange
        optimizer.zero_grad()
        squared = 0.5 * (y - model(X))[:, 0] ** 2
        loss = (weights * squared).sum() * world / N_ROWS
        loss.backward()
        optimizer.step()
    return [p.detach().numpy().copy() for p in net.parameters()]


def _rank_main(rank: int, port: int, queue) -> None:
    """One process of the group: fit every configuration on this rank's shard."""
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
    )
    try:
        rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, N_ROWS)
        fits = [_fit(rows, c, dist.group.WORLD) for c in CONFIGS]
        trained = _train_robustly(rows, dist.group.WORLD)
        queue.put((rank, dist.get_world_size(), fits, trained))
        dist.barrier()  # neither rank tears the group down while the other still talks
    finally:
        dist.destroy_process_group()
    # Skip interpreter finalisation: gloo's worker threads can still hold Python
    # objects then and abort the process (SIGABRT, "terminate called without an
    # active exception"; seen once in CI, cf. pytorch/pytorch#179291). The results
    # are already in the queue.
    os._exit(0)


@pytest.fixture(scope="module")
def rank_fits():
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    # spawn re-raises a rank's exception here, with its traceback.
    mp.spawn(_rank_main, args=(free_port(), queue), nprocs=WORLD_SIZE, join=True)
    results = [queue.get() for _ in range(WORLD_SIZE)]
    return {rank: rest for rank, *rest in results}


def _assert_same_fit(got: dict, expected: dict, rtol: float) -> None:
    assert got["n_iter"] == expected["n_iter"]
    for key in ("inlier_prior", "means", "uniform_log_density", "uniform_bounds"):
        np.testing.assert_allclose(got[key], expected[key], rtol=rtol, err_msg=key)
    for a, b in zip(got["covariances"], expected["covariances"], strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, err_msg="covariances")
    np.testing.assert_allclose(got["lower_bounds"], expected["lower_bounds"], rtol=rtol)


def test_two_gloo_processes_fit_the_single_process_mixture(rank_fits):
    assert sorted(rank_fits) == [0, 1]
    torch.set_num_threads(1)
    for rank, (world_size, fits, _) in rank_fits.items():
        assert world_size == 2, f"rank {rank} saw world size {world_size}"
        for config, got in zip(CONFIGS, fits, strict=True):
            expected = _fit(slice(None), config)
            rtol = 1e-4 if config[-1] == torch.float32 else 1e-9
            _assert_same_fit(got, expected, rtol)


def test_each_shard_alone_fits_a_different_mixture(rank_fits):
    # Guards the test above: were nothing exchanged, each rank would fit its own
    # shard, and that is measurably not the all-rows mixture.
    torch.set_num_threads(1)
    alone = _fit(slice(0, SPLIT), CONFIGS[0])
    together = rank_fits[0][1][0]
    assert not np.allclose(alone["uniform_bounds"], together["uniform_bounds"])
    assert not np.allclose(alone["covariances"][0], together["covariances"][0])


def test_data_parallel_training_matches_one_process(rank_fits):
    torch.set_num_threads(1)
    expected = _train_robustly(slice(None))
    untrained = _train_robustly(slice(None), steps=0)
    for rank, (world_size, _, trained) in rank_fits.items():
        assert world_size == 2
        for got, want, start in zip(trained, expected, untrained, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
            assert not np.allclose(got, start), f"rank {rank} did not train"
