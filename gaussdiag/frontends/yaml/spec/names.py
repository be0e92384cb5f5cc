"""What a spec may name: the distributions of `dist:` and the transforms of `transforms:`.

Read by spec validation (which must answer without importing torch) and by the build, which
binds each name to its torch class; this module sits below both, so neither imports the other.

To add a distribution: its row in ARGUMENTS (the constructor's keywords; a test holds them to
the installed torch); a row in `bind/dist_args.py` if it takes plain-number arguments or
needs a workaround; a case in `tests/test_distributions.py` (a test checks every name has
one). Python sides take any distribution as they are.
"""

from __future__ import annotations

# Distributions a spec may name as `dist:` (torch.distributions class names). Composite
# classes (Independent, TransformedDistribution, MixtureSameFamily) are left out: `event_dims`
# and `transforms` build the first two; mixtures need component specs the format lacks.
# The torch release ARGUMENTS was read from. A newer torch may take more keywords, so the
# spec checks `args:` keys against the table only up to this release (read from the package
# metadata, not by importing torch); the build checks the installed torch's signatures.
ARGUMENTS_TORCH = (2, 13)

ARGUMENTS: dict[str, tuple[str, ...]] = {
    # The keywords of each constructor but validate_args (a test holds them equal to the
    # installed torch's signatures).
    "Normal": ("loc", "scale"),
    "MultivariateNormal": ("loc", "covariance_matrix", "precision_matrix", "scale_tril"),
    "LowRankMultivariateNormal": ("loc", "cov_factor", "cov_diag"),
    "LogNormal": ("loc", "scale"),
    "StudentT": ("df", "loc", "scale"),
    "Cauchy": ("loc", "scale"),
    "Laplace": ("loc", "scale"),
    "HalfNormal": ("scale",),
    "HalfCauchy": ("scale",),
    "Gumbel": ("loc", "scale"),
    "Exponential": ("rate",),
    "Gamma": ("concentration", "rate"),
    "Chi2": ("df",),
    "InverseGamma": ("concentration", "rate"),
    "Beta": ("concentration1", "concentration0"),
    "Dirichlet": ("concentration",),
    "Uniform": ("low", "high"),
    "Weibull": ("scale", "concentration"),
    "Pareto": ("scale", "alpha"),
    "Kumaraswamy": ("concentration1", "concentration0"),
    "FisherSnedecor": ("df1", "df2"),
    "VonMises": ("loc", "concentration"),
    "GeneralizedPareto": ("loc", "scale", "concentration"),
    "LogisticNormal": ("loc", "scale"),
    "ContinuousBernoulli": ("probs", "logits", "lims"),
    "Wishart": ("df", "covariance_matrix", "precision_matrix", "scale_tril"),
    "LKJCholesky": ("dim", "concentration"),
    "Bernoulli": ("probs", "logits"),
    "Binomial": ("total_count", "probs", "logits"),
    "Categorical": ("probs", "logits"),
    "Geometric": ("probs", "logits"),
    "NegativeBinomial": ("total_count", "probs", "logits"),
    "Poisson": ("rate",),
    "Multinomial": ("total_count", "probs", "logits"),
    "OneHotCategorical": ("probs", "logits"),
}
DISTRIBUTIONS: tuple[str, ...] = tuple(ARGUMENTS)

# Elementwise transforms a side may list in `transforms:` (dict forms: affine, power). The
# models spell the same names as a Literal (`models.TransformName`); a test keeps them equal.
TRANSFORMS: tuple[str, ...] = ("exp", "tanh", "sigmoid", "softplus")
