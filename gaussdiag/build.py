"""Build each side of a spec as torch objects: leaf tensors, derived params, inputs, and the
distribution (or hand-written log-density / sampling expression) for each side.

torch is imported inside functions: the name tables at the top are read by spec validation,
which must answer without importing torch.
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

# Elementwise transforms a side may list in `transforms:` (dict forms: affine, power).
TRANSFORMS: tuple[str, ...] = ("exp", "tanh", "sigmoid", "softplus")
