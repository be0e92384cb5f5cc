"""The Python front end: two sides written as Python callables (or nn.Modules), diagnosed by
the same engine as a YAML spec. `compare` and `Pair` are re-exported by `gaussdiag`."""
