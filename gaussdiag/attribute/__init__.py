"""Attribution: from two sides' runs to a verdict, its explanation and its fix.

Where a verdict is decided: `rules.py` (RULES, first match wins, the order in its docstring).
The rest serves it, one job per module:

  attribution   `attribute`: apply RULES, gather problems, evidence and notes
  facts         what the rules look at (runs, quantities, the search's answer), lazily
  quantities    normwise diffs, `judge` (tolerance.py's thresholds), train trajectories
  candidates    CANDIDATES (each with its inverse), their compositions and fix templates
  search        the reparameterization search and its order
  kappa         `estimate_kappa`, the conditioning that widens the float64 tests
  relations     RELATIONS: what relates the sides of a mismatch (first that holds wins)
  relation_runs   the float64 runs at both points that the relations read
  closed_forms    the catalog a relation's number is matched against
  relation_words  a relation's sentence and fix
  accuracy      digits a side's low-dtype run keeps against its own float64 run
  explain       the words and side-by-side data a verdict comes with
  switch_rules  SWITCH_RULES: a switch check's verdict (a side with a switch against itself
                without it), first match wins
  switch_words  the words and fixes a switch check's verdict comes with

The engine sees only the source-agnostic `Problem` interface (gaussdiag/engine/problem.py); the
front ends' own words come through it (`Problem.fix`, `Problem.phrases`).
"""

from gaussdiag.attribute.attribution import Attribution, attribute
from gaussdiag.attribute.candidates import CANDIDATES, Candidate
from gaussdiag.attribute.kappa import estimate_kappa
from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.rules import RULES, Diagnosis

__all__ = ["CANDIDATES", "RULES", "Attribution", "Candidate", "Diagnosis", "attribute",
           "estimate_kappa", "normwise"]
