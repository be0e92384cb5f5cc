"""Properties: whatever the text, loading raises nothing but `SpecError`."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.spec import (
    LoadedSpec,
    load_spec_text,
)
from tests.frontends.yaml.spec.helpers import (
    EXAMPLE,
    PROPERTY,
)

# ---- properties ----------------------------------------------------------------------------

_TOKENS = ["params", "inputs", "a", "b", "x", "mean", "dist", "Normal", "args", "values",
           "shape", "init", "expr", "sample", "version", "mode", "rsample", "at", ":", ": ",
           ",", "-", "- ", "[", "]", "{", "}", "\n", "  ", "\t", "'", '"', "&a", "*a", "!", "!!",
           "#", "|", ">", "?", "%", "@", "`", "<<", "1", "1e-6", ".nan", "---", "...", "~",
           "\\u", "\x00", "é", "\ufeff"]


def _check_only_spec_errors(text: str) -> None:
    try:
        loaded = load_spec_text(text, "h.yaml")
    except SpecError as err:
        # One line per problem, each in the file; never an empty list.
        lines = str(err).splitlines()
        assert err.problems and len(lines) == len(err.problems), repr(str(err))
        assert all(p.file == "h.yaml" for p in err.problems), repr(str(err))
    else:
        assert isinstance(loaded, LoadedSpec)


@PROPERTY
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_yaml_ish_text_raises_only_spec_errors(text: str) -> None:
    _check_only_spec_errors(text)


@PROPERTY
@given(st.text(max_size=200))
def test_random_text_raises_only_spec_errors(text: str) -> None:
    _check_only_spec_errors(text)


_KEYS = st.sampled_from(["version", "name", "seed", "dtypes", "device", "params", "inputs",
                         "a", "b", "at", "mode", "sample_shape", "train", "expect", "dist",
                         "args", "transforms", "event_dims", "log_prob", "expr", "method",
                         "values", "shape", "init", "grad", "sample", "full", "normal",
                         "uniform", "eye", "affine", "power", "loc", "scale", "mean", "std",
                         "x", "steps", "lr", "optimizer", "label"]) | st.text(max_size=8)
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
            | st.sampled_from(["zeros", "normal", "Normal", "float32", "x", "mean", "a", "b",
                               "exp(mean)", "cuda:0", "train", "rsample", "agree", "1e-6"])
            | st.text(max_size=10))
_TREES = st.recursive(_SCALARS, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(_KEYS, children, max_size=5), max_leaves=25)


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)


@PROPERTY
@given(st.dictionaries(_KEYS, _TREES, max_size=8))
def test_random_trees_raise_only_spec_errors(tree: dict[str, Any]) -> None:
    _check_only_spec_errors(_dump(tree))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


_EXAMPLE_TREE = yaml.safe_load(EXAMPLE)
_EXAMPLE_PATHS = _paths(_EXAMPLE_TREE)


@PROPERTY
@given(st.sampled_from(_EXAMPLE_PATHS), _TREES, st.booleans())
def test_mutated_example_raises_only_spec_errors(path: tuple[Any, ...], new: Any,
                                                 delete: bool) -> None:
    """One subtree of the contract's example replaced (or deleted): reaches every stage."""
    import copy

    tree = copy.deepcopy(_EXAMPLE_TREE)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    _check_only_spec_errors(_dump(tree))
