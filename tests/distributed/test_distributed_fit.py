"""Data-parallel fit: two gloo processes, each holding an uneven shard, train one model.

``fit(X_r, y_r, process_group=...)`` must leave every process with the same backbone,
mixture and history, scores for its own rows, the target scale of all the rows, and a
fit as robust as a single-process one. Also run: the torchrun script of
docs/scaling.rst, exactly as documented.
"""

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import BatchNormNet, free_port
from sklearn.metrics import roc_auc_score

from sk_deepgum import DeepGUMRegressor
from sk_deepgum._data import IndexedDataset, ShuffledBatches
from sk_deepgum._distributed import Shards, shard_loss_normaliser
from sk_deepgum._target_scaling import robust_target_scale
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

WORLD_SIZE = 2
N_ROWS = 400
SPLIT = 150  # uneven shards: rank 0 holds rows [0, 150), rank 1 rows [150, 400)
ROOT = Path(__file__).resolve().parents[2]


def _data():
    X, y, outliers = make_contaminated_regression(
        N_ROWS, 3, outlier_rate=0.3, noise=0.1, random_state=0
    )
    return X, y, outliers


def _multi_output_data():
    X, y, _ = _data()
    rng = np.random.default_rng(1)
    Y = np.c_[y, 0.5 * y + 0.1 * rng.normal(size=N_ROWS)]
    w = rng.uniform(0.5, 2.0, size=N_ROWS)
    return X, Y, w


def _deepgum():
    return DeepGUMRegressor(max_epochs=15, warm_up_epochs=3, lr=1e-2, random_state=0)


def _deepgum_held_out():
    return DeepGUMRegressor(
        BatchNormNet,
        max_epochs=8,
        warm_up_epochs=2,
        groups="each",
        lr=1e-2,
        validation_fraction=0.2,
        n_iter_no_change=2,
        random_state=1,
    )


def _huber_held_out():
    return RobustNetRegressor(
        loss="huber",
        max_epochs=6,
        lr=1e-2,
        validation_fraction=0.2,
        n_iter_no_change=1,
        random_state=2,
    )


def _summary(model, X, y) -> dict:
    """What the test compares between processes (picklable, CPU)."""
    out = {
        "state_dict": {
            k: v.detach().cpu().numpy()
            for k, v in model.net_.module_.state_dict().items()
        },
        "history": model.history_,
        "target_scale": model.target_scale_,
        "target_centre": model.target_centre_,
        "n_iter": model.n_iter_,
        "predict": model.predict(X),
        "pickled": pickle.dumps(model),
    }
    if hasattr(model, "mixture_"):
        m = model.mixture_
        out["mixture"] = {
            "weights": m.weights_,
            "covariances": m.covariances_,
            "uniform_log_density": m.uniform_log_density_,
            "uniform_bounds": m.uniform_bounds_,
        }
        out["outlier_scores"] = model.outlier_scores_
        out["mixture_scores"] = m.predict_proba(
            (y - model.predict(X)).reshape(len(y), -1)
        )[:, 1]
    return out


def _rank_main(rank: int, port: int, out_dir: str) -> None:
    """One process of the group: three fits on this rank's shard.

    Results go to files, not a queue: a queue's pipe fills up with a few models and
    blocks the rank while the parent, still joining, does not read it.
    """
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
    )
    group = dist.group.WORLD
    try:
        rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, N_ROWS)
        X, y, _ = _data()
        X_r, y_r = X[rows], y[rows]
        # Bad data on one process: both raise (no process waits for the other).
        y_bad = y_r.copy()
        y_bad[0] = np.nan if rank == 1 else y_bad[0]
        try:
            _deepgum().fit(X_r, y_bad, process_group=group)
            error = None
        except (ValueError, RuntimeError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        gum = _deepgum().fit(X_r, y_r, process_group=group)
        X2, Y2, w2 = _multi_output_data()
        # Only rank 0 passes weights: rank 1 weighs its rows 1.
        w_r = w2[rows] if rank == 0 else None
        held = _deepgum_held_out().fit(X2[rows], Y2[rows], w_r, process_group=group)
        huber = _huber_held_out().fit(X_r, y_r, process_group=group)
        result = (
            dist.get_world_size(),
            _summary(gum, X_r, y_r),
            _summary(held, X2[rows], Y2[rows]),
            _summary(huber, X_r, y_r),
            error,
        )
        Path(out_dir, f"rank{rank}.pkl").write_bytes(pickle.dumps(result))
        dist.barrier()  # neither rank tears the group down while the other still talks
    finally:
        dist.destroy_process_group()
    if rank == 0:
        # A group kept after destroy_process_group: a clear error, not a hang.
        try:
            _deepgum().fit(X_r, y_r, process_group=group)
            message = None
        except ValueError as exc:
            message = str(exc)
        Path(out_dir, "stale.pkl").write_bytes(pickle.dumps((message,)))
    # Skip interpreter finalisation: gloo's worker threads can still hold Python
    # objects then and abort the process (see test_distributed_em.py).
    os._exit(0)


@pytest.fixture(scope="module")
def rank_fits(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ranks")
    # spawn re-raises a rank's exception here, with its traceback.
    mp.spawn(_rank_main, args=(free_port(), str(out_dir)), nprocs=WORLD_SIZE, join=True)
    return {
        key: pickle.loads(Path(out_dir, f"{name}.pkl").read_bytes())
        for key, name in ((0, "rank0"), (1, "rank1"), ("stale", "stale"))
    }


def _assert_same_model(a: dict, b: dict) -> None:
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        np.testing.assert_array_equal(a["state_dict"][key], b["state_dict"][key], key)
    assert a["history"] == b["history"]
    assert a["n_iter"] == b["n_iter"]
    np.testing.assert_array_equal(a["target_scale"], b["target_scale"])
    np.testing.assert_array_equal(a["target_centre"], b["target_centre"])
    if "mixture" in a:
        for key, value in a["mixture"].items():
            np.testing.assert_array_equal(
                np.asarray(value), np.asarray(b["mixture"][key]), key
            )


def test_every_process_ends_with_the_same_model(rank_fits):
    for rank in (0, 1):
        assert rank_fits[rank][0] == WORLD_SIZE, f"rank {rank}: world size"
    for case in (1, 2, 3):  # DeepGUM, DeepGUM held-out + BatchNorm, Huber held-out
        _assert_same_model(rank_fits[0][case], rank_fits[1][case])
    # The held-out fits recorded one score per round, reduced over both shards.
    assert "valid_nll" in rank_fits[0][2]["history"][0]
    assert "valid_median_ae" in rank_fits[0][3]["history"][0]


def test_scores_describe_each_process_rows(rank_fits):
    for rank, n in ((0, SPLIT), (1, N_ROWS - SPLIT)):
        for case in (1, 2):
            fit = rank_fits[rank][case]
            assert fit["outlier_scores"].shape == (n,)
            np.testing.assert_allclose(
                fit["outlier_scores"], fit["mixture_scores"], atol=1e-5
            )


def test_target_scale_is_that_of_all_rows(rank_fits):
    _, y, _ = _data()
    centre, scale = robust_target_scale(y.reshape(-1, 1), None)
    for rank in (0, 1):
        np.testing.assert_array_equal(rank_fits[rank][1]["target_scale"], scale)
        np.testing.assert_array_equal(rank_fits[rank][1]["target_centre"], centre)
    # With rank 0's weights and rank 1's implicit ones: the weighted scale of all rows.
    _, Y2, w2 = _multi_output_data()
    weights = np.r_[w2[:SPLIT], np.ones(N_ROWS - SPLIT)]
    _, scale2 = robust_target_scale(Y2, weights)
    np.testing.assert_array_equal(rank_fits[1][2]["target_scale"], scale2)


def test_the_fit_is_robust(rank_fits):
    # Outlier ranking on the union of the shards, against the true masks.
    _, _, outliers = _data()
    scores = np.r_[rank_fits[0][1]["outlier_scores"], rank_fits[1][1]["outlier_scores"]]
    assert roc_auc_score(outliers, scores) > 0.9
    # Each rank's model is usable on its own after fit (pickled with no group).
    torch.set_num_threads(1)
    model = pickle.loads(rank_fits[1][1]["pickled"])
    X_test, y_test, _ = make_contaminated_regression(
        300, 3, outlier_rate=0.0, noise=0.0, random_state=5
    )
    X, y, _ = _data()
    l2 = RobustNetRegressor(max_epochs=15, lr=1e-2, random_state=0).fit(X, y)

    def rmse(m):
        return float(np.sqrt(np.mean((m.predict(X_test) - y_test) ** 2)))

    assert rmse(model) < 0.6 * rmse(l2)


def test_a_group_without_torch_distributed_is_a_value_error(rank_fits):
    message = rank_fits["stale"][0]
    assert message is not None and "torch.distributed.init_process_group" in message
    X, y, _ = _data()
    with pytest.raises(ValueError, match="torchrun"):
        # Stands for any group while torch.distributed is not initialised here.
        RobustNetRegressor(max_epochs=1).fit(X, y, process_group=object())


def test_bad_data_on_one_process_stops_every_process(rank_fits):
    assert rank_fits[1][4].startswith("ValueError: Input y contains NaN")
    assert rank_fits[0][4].startswith("RuntimeError: fit failed on process(es) [1]")


def test_every_shard_runs_the_same_batches():
    # DDP deadlocks unless every process takes the same number of steps: a shard of
    # 150 rows runs the batches of the largest (250 rows), wrapping around.
    def batches(n):
        data = IndexedDataset(torch.zeros((n, 1)), torch.zeros((n, 1)))
        generator = torch.Generator().manual_seed(0)
        loader = ShuffledBatches(data, 32, True, generator, rows_per_epoch=250)
        return [X["index"] for X, _ in loader]

    small, large = batches(150), batches(250)
    assert len(large) == 8  # ceil(250 / 32)
    assert [len(b) for b in small] == [len(b) for b in large]
    assert torch.equal(torch.cat(large).sort().values, torch.arange(250))
    visits = torch.bincount(torch.cat(small), minlength=150)
    assert visits.min() == 1 and visits.max() == 2 and visits.sum() == 250


def test_shard_normalisers_count_every_row_alike():
    # DDP averages the processes' gradients. With each process's normaliser, the
    # average of the expected batch losses (unit element loss, so the loss of a
    # batch is its weight) is the single-process one on all rows, although the
    # smaller shard visits its rows more often.
    W = torch.as_tensor(np.random.default_rng(0).uniform(0, 1, (N_ROWS, 2)))
    parts, n_train = (W[:SPLIT], W[SPLIT:]), np.array([SPLIT, N_ROWS - SPLIT])
    expected = []
    for rank, part in enumerate(parts):
        shards = Shards(None, rank, 2, torch.device("cpu"), n_train, n_train, False)
        shards.all_reduce = lambda t, op=None: t.new_tensor([float(W.sum())])
        normaliser = shard_loss_normaliser(shards, part)
        expected.append(float(part.sum(1).mean() / normaliser))
    single = float(W.sum(1).mean() / W.mean())
    assert np.mean(expected) == pytest.approx(single, rel=1e-12)
    # Not trivially so: the shards' own mean weights differ.
    assert float(parts[0].sum(1).mean()) != pytest.approx(float(parts[1].sum(1).mean()))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torchrun_script_on_cuda_with_nccl():
    lines = _run_script(["--device", "cuda"], n_procs=min(2, torch.cuda.device_count()))
    assert any(line.startswith("outliers found:") for line in lines), lines


def _run_script(args: list[str], n_procs: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(n_procs),
        "docs/scripts/torchrun_fit.py",
        *args,
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_the_documented_torchrun_command_runs():
    # docs/scaling.rst: python -m torch.distributed.run --standalone
    #                   --nproc_per_node 2 docs/scripts/torchrun_fit.py
    lines = _run_script([], n_procs=2)
    assert "world size 2 (gloo), device cpu" in lines, lines
    found = [
        m
        for line in lines
        if (m := re.match(r"outliers found: .*recall ([\d.]+)", line))
    ]
    assert len(found) == 1, lines
    assert float(found[0][1]) > 0.8, lines
    error = [
        m
        for line in lines
        if (m := re.match(r"clean-test RMSE: ([\d.]+) \(2 processes\), ([\d.]+)", line))
    ]
    assert len(error) == 1, lines
    data_parallel, single = float(error[0][1]), float(error[0][2])
    assert data_parallel < 1.5 * single, lines
