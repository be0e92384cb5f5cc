"""The spec the build-stage tests share: a derived scale, a constant and a sample input."""

SPEC = """
version: 1
seed: 5
params:
  mean: {shape: [3], init: normal}
  raw:  {shape: [3], init: {uniform: [-1.0, 1.0]}}
  std:  {expr: "softplus(raw) + 0.1"}
  fixed: {values: [1.0, 2.0, 3.0], grad: false}
inputs:
  x: {sample: b, sample_shape: [4]}
a: {dist: Normal, args: {loc: mean, scale: std}, event_dims: 1}
b: {dist: Normal, args: {loc: mean, scale: std * fixed / fixed}, event_dims: 1}
"""
