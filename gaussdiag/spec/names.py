"""What a spec may name: the distributions of `dist:` and the transforms of `transforms:`.

Read by spec validation (which must answer without importing torch) and by the build, which
binds each name to its torch class; this module sits below both, so neither imports the other.
"""

from __future__ import annotations

# Distributions a spec may name as `dist:` (torch.distributions class names). Composite
# classes (Independent, TransformedDistribution, MixtureSameFamily) are left out: `event_dims`
# and `transforms` build the first two; mixtures need component specs the format lacks.
DISTRIBUTIONS: tuple[str, ...] = (
    "Normal", "MultivariateNormal", "LowRankMultivariateNormal", "LogNormal", "StudentT",
    "Cauchy", "Laplace", "HalfNormal", "HalfCauchy", "Gumbel", "Exponential", "Gamma", "Chi2",
    "InverseGamma", "Beta", "Dirichlet", "Uniform", "Weibull", "Pareto", "Kumaraswamy",
    "FisherSnedecor", "VonMises", "GeneralizedPareto", "LogisticNormal", "ContinuousBernoulli",
    "Wishart", "LKJCholesky", "Bernoulli", "Binomial", "Categorical", "Geometric",
    "NegativeBinomial", "Poisson", "Multinomial", "OneHotCategorical",
)

# Elementwise transforms a side may list in `transforms:` (dict forms: affine, power). The
# models spell the same names as a Literal (`models.TransformName`); a test keeps them equal.
TRANSFORMS: tuple[str, ...] = ("exp", "tanh", "sigmoid", "softplus")
