"""The three covariance types of the inlier Gaussian, one class each.

Everything that depends on ``covariance_type`` lives here, behind one lookup,
:data:`COVARIANCES`: the E-step's Mahalanobis distance, the M-step's estimate, the
starting point, the per-column variances, the public attribute layout, the
precisions and their Cholesky factors, the change of units, the network loss's
precision, the parameter count. The EM, the estimators and the regressor ask
``COVARIANCES[covariance_type]`` and never branch on the name.

Storage of a (torch) ``covariances`` value, for ``D`` columns in ``G`` groups:

- ``'full'``: a list of ``G`` matrices, group ``g``'s of shape (d_g, d_g);
- ``'diag'``: a tensor of shape (D,), one variance per column;
- ``'spherical'``: a tensor of shape (G,), one variance per group.

``grouping`` arguments are :class:`~sk_deepgum._gum_math.Grouping` objects:
``columns`` (each group's column indices), ``col_group`` (each column's group),
``group_sum`` and ``sizes``.
"""

from __future__ import annotations

import numpy as np
import torch


class FullCovariance:
    """A full covariance matrix per group."""

    name = "full"
    #: Whether the statistics are per-column sums of squares (diag, spherical), or
    #: scatter matrices summed around the means (full).
    uses_squares = False

    def n_parameters(self, d: int) -> int:
        """Free parameters of one group of ``d`` columns: d(d+1)/2."""
        return d * (d + 1) // 2

    def initial(self, var: torch.Tensor, grouping) -> list:
        """Starting covariances from per-column variances ``var`` (D,): diagonal."""
        return [torch.diag(var[cols]) for cols in grouping.columns]

    def mahalanobis(self, XT, means, covariances, grouping, X2T, fit_mean):
        r"""Squared Mahalanobis distance (G, n) and :math:`\log|\Sigma_g|` (G,).

        With :math:`\Sigma = L L^\top`: :math:`(x-\mu)^\top \Sigma^{-1} (x-\mu) =
        \|L^{-1}(x-\mu)\|^2` and :math:`\log|\Sigma| = 2 \sum \log \operatorname{diag}
        L`. ``fit_mean=False`` is a zero-mean Gaussian; ``X2T`` is not used.
        """
        quad = XT.new_empty((grouping.n_groups, XT.shape[1]))
        log_det = XT.new_empty(grouping.n_groups)
        for g, cols in enumerate(grouping.columns):
            centred = XT[cols] - means[cols, None] if fit_mean else XT[cols]
            chol = torch.linalg.cholesky(covariances[g])
            z = torch.linalg.solve_triangular(chol, centred, upper=False)
            quad[g] = (z * z).sum(0)
            log_det[g] = 2.0 * torch.log(torch.diagonal(chol)).sum()
        return quad, log_det

    def estimate(self, moments, data, grouping, reg: torch.Tensor) -> list:
        r"""M-step: :math:`\Sigma_g = S_g / m_g + \operatorname{diag}(\text{reg})`,
        with the scatter :math:`S_g = \sum_n r_{gn} (x_n - \mu)(x_n - \mu)^\top`
        reduced over the row reducer, then the diagonal lifted to the variance floor
        so that a collapsed group stays positive definite."""
        scatters = moments.scatters()
        covariances = []
        for g, cols in enumerate(grouping.columns):
            (scatter,) = data.reducer.sum([scatters[g]])
            cov = scatter / moments.mass[g] + torch.diag(reg[cols])
            lift = (data.var_floor[cols] - cov.diagonal()).clamp_min(0)
            covariances.append(cov + torch.diag(lift))
        return covariances

    def column_variances(self, covariances: list, grouping) -> torch.Tensor:
        """Each column's variance, shape (D,): the diagonals of the blocks."""
        variances = covariances[0].new_empty(grouping.col_group.shape[0])
        for cols, cov in zip(grouping.columns, covariances, strict=True):
            variances[cols] = cov.diagonal()
        return variances

    def loss_precision(self, covariances, grouping, n_outputs, shrinkage):
        r"""Block-diagonal :math:`\Sigma_\lambda^{-1}` (D, D) with
        :math:`\Sigma_\lambda = (1-\lambda)\Sigma + \lambda \bar v I`, :math:`\bar v`
        the mean variance over all columns; each block symmetrised."""
        cov = covariances
        mean_var = torch.cat([c.diagonal() for c in cov]).mean()
        precision = torch.zeros(
            (n_outputs, n_outputs), dtype=cov[0].dtype, device=cov[0].device
        )
        for g, cols in enumerate(grouping.columns):
            eye = torch.eye(len(cols), dtype=cov[g].dtype, device=cov[g].device)
            block = torch.linalg.inv(
                (1 - shrinkage) * cov[g] + shrinkage * mean_var * eye
            )
            precision[cols[:, None], cols[None, :]] = 0.5 * (block + block.T)
        return precision

    def in_units(self, covariances, scale: torch.Tensor, grouping):
        """Covariances of ``scale * x``: :math:`S \\Sigma_g S`, ``S = diag(scale)``;
        returns (covariances, covariance type)."""
        scaled = [
            c * torch.outer(scale[cols], scale[cols])
            for c, cols in zip(covariances, grouping.columns, strict=True)
        ]
        return scaled, self.name

    def group_matrix(self, covariances, g: int, cols) -> np.ndarray:
        """Group ``g``'s (d, d) covariance matrix as numpy (float64 input)."""
        return covariances[g].numpy()

    def precisions(self, covariances: list) -> tuple[list, list]:
        r"""Precision matrices and their Cholesky factors, each a list of (d_g, d_g)
        matrices in the layout of ``covariances`` (sklearn's ``precisions_`` and
        ``precisions_cholesky_``).

        With :math:`\Sigma = L L^\top` (:math:`L` lower triangular), the factor is
        the upper-triangular :math:`U = L^{-\top}`, as sklearn's
        ``_compute_precision_cholesky`` computes it, so that
        :math:`U U^\top = L^{-\top} L^{-1} = \Sigma^{-1}` and
        :math:`(x - \mu)^\top \Sigma^{-1} (x - \mu) = \|(x - \mu)^\top U\|^2`.
        """
        precisions, factors = [], []
        for cov in covariances:
            eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
            chol = torch.linalg.cholesky(cov)
            # L^{-1} by a triangular solve, then transposed: U = L^{-T}.
            inverse_chol = torch.linalg.solve_triangular(chol, eye, upper=False)
            factor = inverse_chol.T.contiguous()
            factors.append(factor)
            precisions.append(factor @ factor.T)
        return precisions, factors

    def to_public(self, covariances, column_groups, grouped: bool):
        """``covariances_``: a list of (d_g, d_g) arrays with ``groups``, else the
        single (D, D) array. Also lays out anything stored like the covariances
        (the precisions and their factors)."""
        matrices = [c.detach().cpu().numpy() for c in covariances]
        return matrices if grouped else matrices[0]

    def from_public(self, public, column_groups, grouped: bool, n_features, to_tensor):
        """The torch storage of a ``covariances_`` attribute (inverse of
        :meth:`to_public`); ``to_tensor`` casts an array."""
        if grouped:
            return [to_tensor(c) for c in public]
        return [to_tensor(public)]


class _PerColumnVariances:
    """Shared by the diagonal and spherical types: a variance per column."""

    uses_squares = True

    def mahalanobis(self, XT, means, covariances, grouping, X2T, fit_mean):
        r""":math:`\sum_{j \in g} (x_j - \mu_j)^2 / v_j` (G, n) and
        :math:`\sum_{j \in g} \log v_j` (G,); with a zero mean, the cached squares
        ``X2T`` when given."""
        var = self.column_variances(covariances, grouping)
        if fit_mean:
            sq = (XT - means[:, None]) ** 2
        else:
            sq = X2T if X2T is not None else XT * XT
        return grouping.group_sum(sq / var[:, None]), grouping.group_sum(torch.log(var))

    def precisions(self, covariances: torch.Tensor) -> tuple:
        r"""Precisions :math:`1 / v` and their Cholesky factors :math:`1 / \sqrt{v}`,
        elementwise on the stored variances (so in the layout of ``covariances``),
        as sklearn's ``precisions_`` and ``precisions_cholesky_`` for 'diag' and
        'spherical'."""
        factors = 1.0 / torch.sqrt(covariances)
        return factors * factors, factors

    def loss_precision(self, covariances, grouping, n_outputs, shrinkage):
        r"""Diagonal :math:`1 / ((1-\lambda) v_j + \lambda \bar v)` (D, D)."""
        var = self.column_variances(covariances, grouping)
        var = (1 - shrinkage) * var + shrinkage * var.mean()
        return torch.diag(1.0 / var)


class DiagCovariance(_PerColumnVariances):
    """One variance per column."""

    name = "diag"

    def n_parameters(self, d: int) -> int:
        return d

    def initial(self, var: torch.Tensor, grouping) -> torch.Tensor:
        return var

    def estimate(self, moments, data, grouping, reg: torch.Tensor) -> torch.Tensor:
        r"""M-step: :math:`v_j = \sum_n r_n (x_{nj} - \mu_j)^2 / m + \text{reg}_j`,
        floored."""
        var = moments.centred_second() / moments.mass_col + reg
        return torch.maximum(var, data.var_floor)

    def column_variances(self, covariances, grouping) -> torch.Tensor:
        return covariances

    def in_units(self, covariances, scale: torch.Tensor, grouping):
        return covariances * scale**2, self.name

    def group_matrix(self, covariances, g: int, cols) -> np.ndarray:
        return np.diag(covariances[cols].numpy())

    def to_public(self, covariances, column_groups, grouped: bool):
        """``covariances_``: per group, its columns' variances with ``groups``, else
        the (D,) array."""
        variances = covariances.detach().cpu().numpy()
        return [variances[cols] for cols in column_groups] if grouped else variances

    def from_public(self, public, column_groups, grouped: bool, n_features, to_tensor):
        if not grouped:
            return to_tensor(np.atleast_1d(public))
        variances = np.empty(n_features)
        for cols, c in zip(column_groups, public, strict=True):
            variances[cols] = c
        return to_tensor(variances)


class SphericalCovariance(_PerColumnVariances):
    """One variance per group, shared by its columns."""

    name = "spherical"

    def n_parameters(self, d: int) -> int:
        return 1

    def initial(self, var: torch.Tensor, grouping) -> torch.Tensor:
        """The mean of the group's per-column starting variances."""
        return grouping.group_sum(var) / grouping.sizes(var.dtype)

    def estimate(self, moments, data, grouping, reg: torch.Tensor) -> torch.Tensor:
        r"""M-step: the pooled :math:`v_g = \sum_{j \in g} \sum_n r_n (x_{nj} -
        \mu_j)^2 / (d_g m_g)` plus the mean of its columns' regularisation terms,
        floored at the mean of their variance floors."""
        sizes = grouping.sizes(data.XT.dtype)
        var = (
            grouping.group_sum(moments.centred_second()) / (sizes * moments.mass)
            + grouping.group_sum(reg) / sizes
        )
        return torch.maximum(var, grouping.group_sum(data.var_floor) / sizes)

    def column_variances(self, covariances, grouping) -> torch.Tensor:
        return covariances[grouping.col_group]

    def in_units(self, covariances, scale: torch.Tensor, grouping):
        """A group whose columns get different scales is no longer spherical: the
        result is per column, ``'diag'``."""
        return covariances[grouping.col_group] * scale**2, "diag"

    def group_matrix(self, covariances, g: int, cols) -> np.ndarray:
        return float(covariances[g]) * np.eye(len(cols))

    def to_public(self, covariances, column_groups, grouped: bool):
        """``covariances_``: one variance per group with ``groups``, else a float
        array of shape ()."""
        variances = covariances.detach().cpu().numpy()
        return list(variances) if grouped else variances[0]

    def from_public(self, public, column_groups, grouped: bool, n_features, to_tensor):
        if grouped:
            return to_tensor(np.asarray(public, dtype=np.float64))
        return to_tensor(np.atleast_1d(public))


#: The covariance type of each ``covariance_type`` name.
COVARIANCES = {
    covariance.name: covariance
    for covariance in (FullCovariance(), DiagCovariance(), SphericalCovariance())
}
