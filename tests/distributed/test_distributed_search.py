"""Hyper-parameter search on a cluster: joblib's Dask and Ray backends.

Each search is compared with the same search run in this process: the fits are seeded
and every backend runs them with one torch thread, so the scores must agree. A second "score" records the id of the process that ran each fit, which
catches a backend that silently fell back to running everything in this process.
"""

import os

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import make_contaminated_regression

GRID = {"lr": [1e-3, 1e-2]}
CV = 2


def _search() -> GridSearchCV:
    # Defined here, not at module level, so cloudpickle ships it by value: Ray's
    # workers cannot import this test module by name.
    def fitting_pid(estimator, X, y) -> int:
        """A "scorer" returning the process that ran the fit (and this scoring)."""
        return os.getpid()

    base = DeepGUMRegressor(
        max_epochs=2,
        warm_up_epochs=1,
        batch_size=32,
        random_state=0,
        module__hidden_layer_sizes=(8,),
    )
    return GridSearchCV(
        base, GRID, cv=CV, scoring={"r2": "r2", "pid": fitting_pid}, refit="r2"
    )


def _data():
    X, y, _ = make_contaminated_regression(
        120, 3, outlier_rate=0.2, noise=0.1, random_state=0
    )
    return X, y


def _fit_pids(search: GridSearchCV) -> set[int]:
    results = search.cv_results_
    return {int(p) for k in range(CV) for p in results[f"split{k}_test_pid"]}


@pytest.fixture(scope="module")
def local_search():
    """The same search run here, one fit after another, with one torch thread.

    One thread, as Dask's nanny and the Ray runtime below set in their workers:
    float32 sums may differ in the last bits between thread counts. (Sequential
    rather than loky: the same reference without two more torch-importing
    processes, which cost ~6 s of the CI budget.)
    """
    X, y = _data()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with joblib.parallel_config(backend="sequential"):
            return _search().fit(X, y)
    finally:
        torch.set_num_threads(threads)


def _assert_same_search(search, reference):
    assert search.best_params_ == reference.best_params_
    for k in range(CV):
        key = f"split{k}_test_r2"
        np.testing.assert_allclose(
            search.cv_results_[key], reference.cv_results_[key], rtol=1e-6
        )


def test_grid_search_runs_on_a_dask_cluster_of_processes(local_search):
    distributed = pytest.importorskip("distributed")
    X, y = _data()
    # Processes, not threads: each worker imports sk_deepgum and torch itself, as on
    # a real cluster (the nanny sets OMP_NUM_THREADS=1 in them).
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        workers = set(cluster.scheduler_info["workers"])
        worker_pids = set(client.run(os.getpid).values())
        with (
            distributed.get_task_stream(client) as stream,
            joblib.parallel_config(backend="dask"),
        ):
            search = _search().fit(X, y)
    # joblib's Dask backend ships batches of `_fit_and_score` calls as tasks; the
    # scheduler's task stream shows them on the cluster's workers ...
    tasks = [t for t in stream.data if "fit_and_score" in t["key"]]
    assert tasks, f"no _fit_and_score task reached the scheduler: {stream.data!r}"
    assert {t["worker"] for t in tasks} <= workers
    # ... and every fit ran in a worker process, none in this one.
    assert os.getpid() not in worker_pids
    assert _fit_pids(search) <= worker_pids
    _assert_same_search(search, local_search)


def test_grid_search_runs_on_ray(local_search):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    X, y = _data()
    register_ray()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
    )
    try:
        with joblib.parallel_config(backend="ray", n_jobs=2):
            search = _search().fit(X, y)
        # Ray's pool actors ran the fits, none of them in this process.
        pids = _fit_pids(search)
    finally:
        ray.shutdown()
    assert pids and os.getpid() not in pids
    _assert_same_search(search, local_search)
