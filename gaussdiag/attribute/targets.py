"""What the search transforms: a `Target` is a param of one side (a leaf, or a YAML spec's
derived param), or an argument of a distribution the side constructs (`engine.arguments`):
where a network head's std or an expression's covariance lives.

An argument is a target when it is computed from the params (it carries their gradient) and
is not a param passed as it is (the params are targets already). Candidates fit targets by
shape: elementwise ones anything but a full matrix argument, matrix ones square matrices; on
a diagonal matrix argument an elementwise candidate acts on the diagonal, which is what a
covariance written as `diag_embed(v)` means by `v`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.attribute.candidates import Candidate
from gaussdiag.engine.arguments import Fn, Site
from gaussdiag.vocab import SideName

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Target:
    side: SideName
    param: str | None = None
    site: Site | None = None
    matrix: bool = False  # a square matrix (last two dims equal)
    diagonal: bool = False  # a matrix argument that is diagonal at the jittered point

    @property
    def name(self) -> str:
        """For progress lines: `std`, or `MultivariateNormal.covariance_matrix`."""
        if self.site is None:
            return str(self.param)
        return f"{self.site.distribution}.{self.site.argument}"

    def fits(self, steps: tuple[Candidate, ...]) -> bool:
        """Whether every step applies here: matrix steps need a square matrix; elementwise
        steps do not apply to a full (non-diagonal) matrix argument."""
        if any(c.matrix for c in steps) and not self.matrix:
            return False
        return not (self.site is not None and self.matrix and not self.diagonal
                    and any(not c.matrix and c.factor is None for c in steps))

    def adapt(self, steps: tuple[Candidate, ...], fn: Fn) -> Fn:
        """`fn` as applied to this target: on the diagonal of a diagonal matrix argument when
        the steps are elementwise."""
        if not (self.diagonal and not any(c.matrix for c in steps)):
            return fn

        def on_diagonal(t: torch.Tensor) -> torch.Tensor:
            import torch

            return torch.diag_embed(fn(torch.diagonal(t, dim1=-2, dim2=-1)))

        return on_diagonal


def square_matrix(t: torch.Tensor) -> bool:
    return t.ndim >= 2 and t.shape[-1] == t.shape[-2]


def is_diagonal(t: torch.Tensor) -> bool:
    import torch

    if not square_matrix(t):
        return False
    off = t - torch.diag_embed(torch.diagonal(t, dim1=-2, dim2=-1))
    return not bool(off.any())


def argument_target(side: SideName, site: Site, value: torch.Tensor) -> Target:
    matrix = square_matrix(value)
    return Target(side, site=site, matrix=matrix, diagonal=matrix and is_diagonal(value))
