"""ALTERNATIVES: the argument swap that says what a found fix says without its transform
(`covariance_matrix=std**2` is `scale_tril=std`). Both front ends' fix wording reads it."""

from __future__ import annotations

# Keyed by (argument name, transform name), the value is the argument to pass instead.
ALTERNATIVES: dict[tuple[str, str], str] = {
    ("covariance_matrix", "square"): "scale_tril",
    ("covariance_matrix", "gram"): "scale_tril",
    ("precision_matrix", "inverse"): "covariance_matrix",
    ("covariance_matrix", "inverse"): "precision_matrix",
    ("covariance_matrix", "reciprocal"): "precision_matrix",
    ("probs", "sigmoid"): "logits",
    ("logits", "logit"): "probs",
    ("logits", "log"): "probs",
}
