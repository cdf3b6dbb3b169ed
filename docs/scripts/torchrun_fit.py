"""Fit one DeepGUMRegressor with every process of a torchrun launch.

Run (one process per GPU on a GPU machine, or processes on CPU cores)::

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        docs/scripts/torchrun_fit.py              # CPU: gloo
    python -m torch.distributed.run --standalone --nproc_per_node 4 \\
        docs/scripts/torchrun_fit.py --device cuda  # 4 GPUs: nccl

Each process takes the rows ``rank::world_size`` of the same data set and calls
``fit(..., process_group=dist.group.WORLD)``; every process ends with the same model.
Process 0 then reports the outliers found on all rows and compares the model with a
single-process fit on all rows.
"""

import argparse

import numpy as np
import torch.distributed as dist

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import make_contaminated_regression


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    args = parser.parse_args()
    backend = "nccl" if args.device.startswith("cuda") else "gloo"
    # torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address.
    dist.init_process_group(backend)
    rank, world_size = dist.get_rank(), dist.get_world_size()
    try:
        X, y, wrong = make_contaminated_regression(
            600, 5, outlier_rate=0.2, noise=0.1, random_state=0
        )
        X_test, y_test, _ = make_contaminated_regression(
            500, 5, outlier_rate=0.0, noise=0.0, random_state=1
        )
        mine = np.arange(rank, len(y), world_size)  # this process's shard
        model = DeepGUMRegressor(
            max_epochs=30, lr=1e-2, device=args.device, random_state=0
        )
        # device='cuda' trains on cuda:LOCAL_RANK: one GPU per process.
        model.fit(X[mine], y[mine], process_group=dist.group.WORLD)

        # outliers_ describes this process's rows: collect them on every process.
        flagged = [None] * world_size
        dist.all_gather_object(flagged, (mine, model.outliers_))
        if rank == 0:
            outliers = np.zeros(len(y), dtype=bool)
            for rows, mask in flagged:
                outliers[rows] = mask
            hits = int((outliers & wrong).sum())
            print(f"world size {world_size} ({backend}), device {model.device_}")
            print(
                f"outliers found: {hits} of {int(wrong.sum())} wrong targets "
                f"(recall {hits / wrong.sum():.3f}), "
                f"{int((outliers & ~wrong).sum())} false alarms"
            )
            single = DeepGUMRegressor(
                max_epochs=30, lr=1e-2, device=args.device, random_state=0
            ).fit(X, y)

            def rmse(m):
                return np.sqrt(np.mean((m.predict(X_test) - y_test) ** 2))

            print(
                f"clean-test RMSE: {rmse(model):.4f} ({world_size} processes), "
                f"{rmse(single):.4f} (1 process on all rows)"
            )
        dist.barrier()  # process 0 reports before the group is torn down
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
