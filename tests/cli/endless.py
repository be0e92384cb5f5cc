"""Specs the signal and timeout tests share: one that never ends on its own, one that ends at
once."""

# torch's VonMises rejection sampler loops while no proposal is accepted, and at
# concentration 1e30 none is
ENDLESS = """\
version: 1
mode: rsample
sample_shape: [4]
params:
  loc: {shape: [3], init: zeros}
a: {dist: VonMises, args: {loc: loc, concentration: 1.0e30}, method: sample}
b: {dist: VonMises, args: {loc: loc, concentration: 1.0}, method: sample}
"""
FINE = """\
version: 1
params:
  m: {shape: [3], init: zeros}
inputs:
  x: {values: [0.5, -1.0, 2.0]}
a: {dist: Normal, args: {loc: m, scale: 1.0}}
b: {dist: Normal, args: {loc: m, scale: 1.0}}
"""
