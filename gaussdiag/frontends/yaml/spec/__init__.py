"""The spec stage: a spec file -> a validated, located `LoadedSpec`, or one `SpecError`.

Modules, in the order loading runs them: `document` (YAML text -> values with marks),
`models` (the strict, frozen pydantic models), `messages` (their errors -> located messages),
`checks` (cross-field rules), `load` (the entry points). `names` holds what a spec may name,
`schema` the JSON Schema, `starter` the template `gaussdiag init` writes. No torch here.
"""

from __future__ import annotations

from gaussdiag.frontends.yaml.spec.load import MAX_FILE_BYTES, LoadedSpec, load_spec, load_spec_text
from gaussdiag.frontends.yaml.spec.located import KeyPath, format_path
from gaussdiag.frontends.yaml.spec.models import (
    AffineArgs,
    AffineTransform,
    ExprTensor,
    EyeInit,
    FullInit,
    InitTensor,
    InputSpec,
    NormalArgs,
    NormalInit,
    PowerTransform,
    SampleInput,
    Side,
    Spec,
    TensorSpec,
    TrainSpec,
    TransformSpec,
    UniformInit,
    ValuesTensor,
)
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS

__all__ = [
    "DEFAULT_MAX_ELEMENTS", "MAX_FILE_BYTES", "AffineArgs", "AffineTransform", "ExprTensor",
    "EyeInit", "FullInit", "InitTensor", "InputSpec", "KeyPath", "LoadedSpec", "NormalArgs",
    "NormalInit", "PowerTransform", "SampleInput", "Side", "Spec", "TensorSpec", "TrainSpec",
    "TransformSpec", "UniformInit", "ValuesTensor", "format_path", "load_spec",
    "load_spec_text",
]
