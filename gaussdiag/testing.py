"""Assertions for test suites: two Python sides must agree (or differ only by round-off), or
give a stated verdict. A failure's message is the plain-text report. The second side is
the reference (`assert_equivalent(actual, expected)`): a fix is offered on the first side
first, unless `reference=` says otherwise.

    from gaussdiag.testing import assert_equivalent

    def test_my_policy_matches_the_reference():
        assert_equivalent(my_policy_dist, reference_dist,
                          params={"mean": mean, "std": std},
                          inputs={"x": gaussdiag.sample("b", (64,))})
"""

from __future__ import annotations

from typing import Any

from gaussdiag.api import Report, compare
from gaussdiag.errors import GaussdiagError
from gaussdiag.suggest import hint
from gaussdiag.vocab import Verdict

__all__ = ["assert_equivalent", "assert_verdict"]


def assert_equivalent(a: Any, b: Any, **keywords: Any) -> Report:
    """Pass when the verdict is `agree` or `round-off`; otherwise AssertionError with the
    report. Takes the keywords of `gaussdiag.compare`; returns the report."""
    report = compare(a, b, **{"reference": "b", **keywords})
    if report.verdict is None or not report.verdict.acceptable_without_expect:
        verdict = report.verdict.value if report.verdict else "none"
        raise AssertionError(f"the sides are not equivalent: {verdict}\n{report}")
    return report


def assert_verdict(a: Any, b: Any, verdict: str, **keywords: Any) -> Report:
    """Pass when the verdict is `verdict` (e.g. "parameterization"); otherwise AssertionError
    with the report. Takes the keywords of `gaussdiag.compare`; returns the report."""
    names = [v.value for v in Verdict]
    if verdict not in names:
        raise GaussdiagError(f"unknown verdict {verdict!r}{hint(str(verdict), names)}; "
                             f"verdicts: {', '.join(names)}")
    report = compare(a, b, **{"reference": "b", **keywords})
    if report.verdict != verdict:
        got = report.verdict.value if report.verdict else "none"
        raise AssertionError(f"expected {verdict}, got {got}\n{report}")
    return report
