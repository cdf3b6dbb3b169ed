"""Draw the data flow of ``DeepGUMRegressor.fit`` for docs/architecture.rst.

Each box is one step, labelled with what it computes and the module that does it;
the loop on the right is one alternation round (EM on the residuals, then SGD on
the responsibility-weighted loss). Run by the ``plot`` directive at build time.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STEPS = [
    # (x, y, text, module)
    (0.0, 6.0, "X, y", "user input"),
    (0.0, 5.0, "validate, cast to tensors", "_base.py, _validation.py, _data.py"),
    (0.0, 4.0, "standardise targets (median, MAD)", "_target_scaling.py"),
    (0.0, 3.0, "warm-up: SGD on the L2 loss", "_training.py (SkorchNet)"),
    (0.0, 2.0, "residuals  e = y - f(X; w)", "_training.py (FitState)"),
    (0.0, 1.0, "EM on e: Gaussian(t)-uniform mixture", "_em.py, _gum_math.py"),
    (0.0, 0.0, "responsibilities -> loss weights W, precision P", "regressor.py"),
    (
        0.0,
        -1.0,
        r"SGD epoch on $\sum_n W_n\,\frac{1}{2} e_n^\top P e_n$",
        "_training.py (WeightedLoss)",
    ),
    (0.0, -2.2, "predict, outlier_scores_, mixture_ (target units)", "regressor.py"),
]
WIDTH, HEIGHT = 5.6, 0.62


def draw(ax):
    for x, y, text, module in STEPS:
        box = FancyBboxPatch(
            (x - WIDTH / 2, y - HEIGHT / 2),
            WIDTH,
            HEIGHT,
            boxstyle="round,pad=0.04",
            facecolor="#eef3fb" if y > -2 else "#e8f5e9",
            edgecolor="#33507a",
        )
        ax.add_patch(box)
        ax.text(x, y + 0.1, text, ha="center", va="center", fontsize=9)
        ax.text(
            x,
            y - 0.17,
            module,
            ha="center",
            va="center",
            fontsize=7.5,
            color="#555555",
            family="monospace",
        )
    for (x0, y0, *_), (x1, y1, *_) in zip(STEPS[:-1], STEPS[1:], strict=True):
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0 - HEIGHT / 2),
                (x1, y1 + HEIGHT / 2),
                arrowstyle="-|>",
                mutation_scale=10,
                color="#33507a",
            )
        )
    # One alternation round: back from the SGD epoch to the residuals.
    ax.add_patch(
        FancyArrowPatch(
            (WIDTH / 2, -1.0),
            (WIDTH / 2, 2.0),
            connectionstyle="arc3,rad=0.6",
            arrowstyle="-|>",
            mutation_scale=10,
            color="#b5472d",
        )
    )
    ax.text(
        WIDTH / 2 + 1.15,
        0.5,
        "next round\n(regressor.py\n_run_schedule)",
        ha="center",
        va="center",
        fontsize=8,
        color="#b5472d",
    )
    ax.set_xlim(-WIDTH / 2 - 0.3, WIDTH / 2 + 1.8)
    ax.set_ylim(-2.7, 6.5)
    ax.axis("off")


fig, ax = plt.subplots(figsize=(7.5, 8.0))
draw(ax)
fig.tight_layout()
