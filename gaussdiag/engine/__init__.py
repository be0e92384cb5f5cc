"""The engine: the `Problem` a front end hands over and every type it carries, and how a side
is run. It knows nothing of where a problem came from (no YAML, no Python pairs).

  problem        `Problem` (the interface, one docstring) and `TrainPlan`
  base           `ProblemBase`: the point and its caches, shared by every front end
  built          `Env`, `BuiltSide`, `Overrides` (the search's hook)
  evaluate       `run_side` / `train_side`: forward, backward, cost; `moments`
  arguments      the distributions a side constructs, seen and rebuilt (the search's hook)
  cost           each side's time as the median of warm calls
  threads        torch's intra-op thread count, chosen from the problem's size
  failures       `ConstraintFailure` (invalid-parameters) and the fixes for broken constraints
  device         devices, dtypes, seeded draws
  point          the jittered point and slicing
  torch_warnings torch's warnings as report notes
  conditioning   eigenvalues and condition numbers that never raise
  phrases        the clauses a front end lends the engine's sentences
  alternatives   the argument swaps a fix may offer
  switch         switches by name (`compile`, `device:cuda`, `tf32`, `autocast:bfloat16`, ...)
                 and the plan of switch checks a front end hands the coordinator
  switched       a side run under a switch, and without it
  compiled       a side under torch.compile, once per dtype, its graphs recorded
  reproducer     the standalone script for a compile mismatch

The judge (`gaussdiag.attribute`) reads these; `gaussdiag.pipeline` runs both.
"""
