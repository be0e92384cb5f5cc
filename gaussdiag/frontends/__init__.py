"""Front ends: each turns a user's description of two sides into the engine's `Problem`
(gaussdiag/engine/problem.py), on `gaussdiag.engine.base.ProblemBase`.

  yaml/     a YAML spec: `spec` (load and check, no torch), `expr` (the whitelist expression
            language), `bind` (the spec bound to torch: `BoundSpec`), `run` (a spec file to
            its report)
  python/   two Python callables or nn.Modules (`gaussdiag.compare`, `Pair` files)

The engine and the judge never import a front end; a front end imports the engine, and
hands its problem to `gaussdiag.pipeline.diagnose_problem`. To add a front end, subclass
`ProblemBase`, implement its hooks and the rest of `Problem`, and call `diagnose_problem`.
"""
