"""Running a side under a switch (gaussdiag/engine/switched.py, compiled.py): torch.compile on
thread 000's fixed pair, a side compiled once per dtype, seeded draws through the compiler,
the CUDA and MPS paths where the device exists (they skip themselves elsewhere), and an absent
device named by its switch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.distributions import Gumbel, Independent, MultivariateNormal, Normal

import gaussdiag
from gaussdiag.attribute.quantities import normwise
from gaussdiag.engine.evaluate import SideRun
from gaussdiag.engine.switch import parse_switch
from gaussdiag.engine.switched import run_switched, tf32
from gaussdiag.errors import DeviceError
from gaussdiag.frontends.python.problem import LiveProblem
from gaussdiag.frontends.python.settings import settings
from gaussdiag.vocab import DType, SideName, Verdict
from tests.conftest import cuda_only

FIXED = "configs/mvn_diag_fixed.yaml"  # thread 000's pair, corrected
ACCEPTABLE = (Verdict.AGREE, Verdict.ROUND_OFF)


def mvn_fixed(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
    return MultivariateNormal(mean, torch.diag_embed(std**2))


def normal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


POINT = {"mean": torch.zeros(10), "std": torch.rand(10, generator=torch.Generator()
                                                    .manual_seed(0)) * 1.5 + 0.5}


def test_aot_eager_on_thread_000s_fixed_pair_agrees_or_rounds() -> None:
    report = gaussdiag.diagnose(FIXED, switches=["compile:aot_eager"])
    assert report.verdict is Verdict.AGREE and report.ok
    assert [(c.switch, c.side) for c in report.switches] == [
        ("compile:aot_eager", SideName.A), ("compile:aot_eager", SideName.B)]
    for check in report.switches:
        assert check.verdict in ACCEPTABLE and check.ok, check.explanation
        assert set(check.compile_seconds) == {DType.FLOAT32, DType.FLOAT64}
        assert {c.dtype for c in check.costs} == {DType.FLOAT32, DType.FLOAT64}
        # aot_eager runs the same aten ops as eager: nothing visible may change
        assert all(q.diff[DType.FLOAT64] <= q.tol[DType.FLOAT64] for q in check.quantities)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["yaml", "python"])
def test_inductor_on_thread_000s_fixed_pair_agrees_or_rounds(source: str) -> None:
    if source == "yaml":
        report = gaussdiag.diagnose(FIXED, switches=["compile"])
    else:
        report = gaussdiag.compare(mvn_fixed, normal, switch="compile", params=POINT,
                                   inputs={"x": gaussdiag.sample("b", (64,))})
    assert report.ok and [c.switch for c in report.switches] == ["compile:inductor"] * 2
    for check in report.switches:
        assert check.verdict in ACCEPTABLE, check.explanation
        assert not any(q.persists for q in check.quantities)


def _problem(switch: str) -> LiveProblem:
    chosen = settings(params=POINT, inputs={"x": torch.randn(8, 10)}, switch=switch,
                      single=True)
    return LiveProblem(mvn_fixed, mvn_fixed, chosen)


def test_a_side_is_compiled_once_per_dtype() -> None:
    problem = _problem("compile:aot_eager")
    switch = parse_switch("compile:aot_eager")
    cache: dict = {}  # type: ignore[type-arg]
    first = run_switched(problem, SideName.A, switch, {}, cache)
    state = cache[(SideName.A, "aot_eager")]
    graphs = {dt: len(g) for dt, g in state.graphs.items()}
    assert set(state.functions) == set(graphs) == {DType.FLOAT32, DType.FLOAT64}
    assert all(n >= 1 for n in graphs.values())
    again = run_switched(problem, SideName.A, switch, {}, cache)
    # the second run compiles nothing: no graph handed to the backend, no compile time
    assert {dt: len(g) for dt, g in state.graphs.items()} == graphs
    assert again.compile_seconds == first.compile_seconds
    for dt in (DType.FLOAT32, DType.FLOAT64):
        a, b = first.switched[dt], again.switched[dt]
        assert isinstance(a, SideRun) and isinstance(b, SideRun)
        assert torch.equal(a.value, b.value)


def reparameterized(mean: torch.Tensor, std: torch.Tensor) -> Normal:
    return Normal(mean, std)


def test_seeded_draws_come_out_the_same_through_the_compiler() -> None:
    report = gaussdiag.compare(reparameterized, switch="compile:aot_eager", params=POINT,
                               mode="rsample", sample_shape=(32,))
    check = report.switches[0]
    assert check.verdict is Verdict.AGREE, check.explanation
    assert {q.name for q in check.quantities} == {"draws", "grad[mean]", "grad[std]"}


def _graphs(switch: str, report_of: object) -> dict[tuple[SideName, DType], list[str]]:
    """The code of every graph torch.compile handed the backend, per (side, dtype), while
    `report_of()` runs a diagnosis."""
    import gaussdiag.engine.switched as switched

    seen: dict[tuple[SideName, DType], list[str]] = {}
    real = switched.run_switched

    def recording(problem, side, sw, reuse, cache):  # type: ignore[no-untyped-def]
        runs = real(problem, side, sw, reuse, cache)
        for dt, graphs in cache[(side, sw.arg)].graphs.items():
            seen[(side, dt)] = [g.module.code for g in graphs]
        return runs

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(switched, "run_switched", recording)  # imported by its caller per call
        report_of()  # type: ignore[operator]
    assert seen, f"no graph recorded for {switch}"
    return seen


@pytest.mark.parametrize("source", ["yaml", "python"])
def test_the_compiled_graph_is_the_whole_side(source: str) -> None:
    """What torch.compile sees is the side's math, constructor and log_prob in one graph per
    dtype: none of gaussdiag's own checks and contexts around a run (a seed, the run's
    dtype, singular-matrix checks) may cut it, which would leave the log_prob eager."""
    def run() -> None:
        if source == "yaml":
            gaussdiag.diagnose(FIXED, switches=["compile:aot_eager"])
        else:
            gaussdiag.compare(mvn_fixed, switch="compile:aot_eager", params=POINT,
                              inputs={"x": torch.randn(8, 10)})

    seen = _graphs("compile:aot_eager", run)
    for dt in (DType.FLOAT32, DType.FLOAT64):
        [code] = seen[(SideName.A, dt)]  # one graph
        # the constructor's covariance and Cholesky factor, and log_prob's triangular solve
        assert "diag_embed" in code and "linalg_cholesky" in code, code
        assert "linalg_solve_triangular" in code, code
    if source == "yaml":
        assert [len(seen[(SideName.B, dt)]) for dt in (DType.FLOAT32, DType.FLOAT64)] == [1, 1]


def gumbel(loc: torch.Tensor, scale: torch.Tensor) -> Gumbel:
    return Gumbel(loc, scale)


def test_a_change_the_compiler_makes_inside_log_prob_is_a_mismatch() -> None:
    """Gumbel's only exp is in its log_prob, (y - exp(y)) - log(scale) with y = (loc - x) /
    scale: a backend drifting that exp is seen only if log_prob is compiled."""
    import tests.engine.planted_backends as planted

    loc = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64)
    scale = torch.linspace(0.5, 2.0, 6, dtype=torch.float64)
    x = torch.linspace(-2.0, 3.0, 6, dtype=torch.float64)
    report = gaussdiag.compare(gumbel, switch=f"compile:{planted.EXP_DRIFT}",
                               params={"loc": loc, "scale": scale}, inputs={"x": x})
    check = report.switches[0]
    assert check.verdict is Verdict.MISMATCH, check.explanation
    y = (loc - x) / scale
    eager = (y - y.exp()) - scale.log()
    drifted = (y - y.exp() * (1 + planted.DRIFT)) - scale.log()
    [q] = [q for q in check.quantities if q.name == "log_prob"]
    assert q.diff[DType.FLOAT64] == pytest.approx(normwise(eager, drifted), rel=1e-9)


def noisy(mean: torch.Tensor, std: torch.Tensor) -> Normal:
    # draws noise of its own before the distribution (as a dropout would), adding nothing
    return Normal(mean + 0.0 * torch.randn_like(mean), std)


def test_a_side_that_draws_before_its_draw_is_reseeded_as_in_eager() -> None:
    """Eager runs call the side under the seed, then draw under the seed afresh; the
    compiled run must draw the same noise, so the draw is reseeded (a graph of its own)."""
    report = gaussdiag.compare(noisy, switch="compile:aot_eager", params=POINT,
                               mode="rsample", sample_shape=(16,))
    check = report.switches[0]
    assert check.verdict is Verdict.AGREE, check.explanation
    [draws] = [q for q in check.quantities if q.name == "draws"]
    assert draws.diff[DType.FLOAT64] == 0.0
    assert "2 in float32, 2 in float64" in check.notes[0]


def kl_closed_form(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum()


def test_a_side_of_params_alone_is_compiled_without_an_input() -> None:
    """A KL term needs no point: its compiled run returns its own value (it was refused for
    want of an input to evaluate log_prob at)."""
    params = {"mu": torch.linspace(-1.0, 1.0, 5, dtype=torch.float64),
              "logvar": torch.linspace(-0.5, 0.5, 5, dtype=torch.float64)}
    report = gaussdiag.compare(kl_closed_form, switch="compile:aot_eager", params=params)
    [check] = report.switches
    assert check.error is None and check.verdict is Verdict.AGREE, check.explanation
    assert {q.name for q in check.quantities} == {"log_prob", "grad[mu]", "grad[logvar]"}
    # aot_eager runs eager's aten ops: the compiled value is the eager one
    assert all(q.diff[DType.FLOAT64] <= q.tol[DType.FLOAT64] for q in check.quantities)


def test_a_side_that_breaks_a_constraint_eagerly_is_invalid_under_compile_too() -> None:
    """Its compiled build skips the checks that would say so (a Cholesky fails inside the
    graph instead): the eager failure stands for both runs, nothing is compiled."""
    report = gaussdiag.diagnose("configs/covariance_not_pd.yaml",
                                switches=["compile:aot_eager"])
    a, b = report.switches
    assert a.verdict is Verdict.INVALID_PARAMETERS and a.error is None, a.explanation
    assert "without the switch too" in a.explanation and "PositiveDefinite" in a.explanation
    assert a.compile_seconds == {} and not any("captured" in n for n in a.notes)
    assert b.verdict in ACCEPTABLE, b.explanation
    # the pair's verdict answers for the side: the check adds no failure of its own
    assert a.ok and report.ok and report.verdict is Verdict.INVALID_PARAMETERS


def test_tf32_is_turned_on_and_off_and_restored() -> None:
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = matmul.allow_tf32, cudnn.allow_tf32
    with tf32(on=True):
        assert matmul.allow_tf32 and cudnn.allow_tf32
        with tf32(on=False):
            assert not matmul.allow_tf32 and not cudnn.allow_tf32
        assert matmul.allow_tf32
    assert (matmul.allow_tf32, cudnn.allow_tf32) == before


def test_on_device_moves_one_side_of_a_copy() -> None:
    problem = _problem("compile:aot_eager")
    moved = problem.on_device(SideName.A, torch.device("cpu", 0))
    assert moved is not problem and moved.side_devices[SideName.A] == torch.device("cpu", 0)
    assert problem.side_devices[SideName.A] == torch.device("cpu")
    assert moved.side_devices[SideName.B] == problem.side_devices[SideName.B]


@pytest.mark.parametrize("switch", ["device:cuda", "tf32"])
def test_an_absent_cuda_device_is_an_error_naming_the_switch(switch: str) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    with pytest.raises(DeviceError) as info:
        gaussdiag.compare(mvn_fixed, switch=switch, params=POINT,
                          inputs={"x": torch.randn(8, 10)})
    assert str(info.value).startswith(f"switch {switch}: ")


def test_an_absent_mps_device_is_an_error_naming_the_switch() -> None:
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        pytest.skip("MPS is present here")
    with pytest.raises(DeviceError, match=r"^switch device:mps: device 'mps' requested"):
        gaussdiag.compare(mvn_fixed, switch="device:mps", params=POINT,
                          inputs={"x": torch.randn(8, 10)})


# ---- on the devices themselves (skipped without them) ------------------------------------

@cuda_only
@pytest.mark.cuda
def test_device_cuda_on_thread_000s_fixed_pair_agrees_or_rounds() -> None:
    report = gaussdiag.diagnose(FIXED, switches=["device:cuda"])
    assert report.ok
    for check in report.switches:
        assert check.verdict in ACCEPTABLE, check.explanation
        assert check.device.startswith("cuda")


def gp(log_lengthscale: torch.Tensor, log_noise: torch.Tensor, t: torch.Tensor,
       y: torch.Tensor) -> MultivariateNormal:
    """A GP marginal likelihood as GP libraries compute it: squared distances through a
    matmul (||t_i||² + ||t_j||² - 2 t_i·t_j, where TF32 rounds), a squared-exponential
    kernel with a long lengthscale and a small noise, so that the kernel matrix is
    ill-conditioned."""
    sq = (t**2).sum(-1)
    d2 = (sq[:, None] + sq[None, :] - 2 * t @ t.T).clamp_min(0)
    k = torch.exp(-0.5 * d2 / log_lengthscale.exp() ** 2)
    k = k + log_noise.exp() * torch.eye(t.shape[0], dtype=t.dtype, device=t.device)
    return MultivariateNormal(torch.zeros_like(y), covariance_matrix=k)


@cuda_only
@pytest.mark.cuda
def test_tf32_on_an_ill_conditioned_gp_marginal_likelihood_is_round_off_with_the_fix() -> None:
    g = torch.Generator().manual_seed(0)
    t = torch.rand(256, 3, generator=g)
    y = torch.sin(6 * t[:, 0]) + 0.05 * torch.randn(256, generator=g)
    report = gaussdiag.compare(
        gp, switch="tf32", device="cuda",
        params={"log_lengthscale": torch.tensor(-0.5), "log_noise": torch.tensor(-6.0)},
        inputs={"t": t, "y": y}, at="y")
    check = report.switches[0]
    assert report.kappa > 10, report.kappa  # ill-conditioned: the allowance widens with it
    ampere = torch.cuda.get_device_capability()[0] >= 8  # TF32 exists from Ampere on
    assert check.verdict is (Verdict.ROUND_OFF if ampere else Verdict.AGREE), check.explanation
    if ampere:
        assert "torch.backends.cuda.matmul.allow_tf32 = False" in check.fix
    for q in check.quantities:
        assert q.error is not None and q.explained is not None and q.error_without is not None
        assert q.error <= q.error_without + q.explained


def test_mps_runs_where_there_is_one() -> None:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        pytest.skip("needs an MPS device")
    report = gaussdiag.compare(normal, switch="device:mps", params=POINT,
                               inputs={"x": torch.randn(8, 10)})
    assert report.switches[0].verdict in ACCEPTABLE


def test_torch_compile_leaves_torch_s_argument_checks_as_they_were() -> None:
    """torch.compile's first call in a process turns torch.distributions' default argument
    checks off for good; a compile check must not leave later sides unchecked. In a fresh
    process, since that happens once per process."""
    code = (
        "import torch, gaussdiag\n"
        "from torch.distributions import Distribution, Normal\n"
        "def side(mean, std):\n"
        "    return Normal(mean, std)\n"
        "gaussdiag.compare(side, switch='compile:aot_eager', params={'mean': torch.zeros(3),"
        " 'std': torch.ones(3)}, inputs={'x': torch.zeros(3)})\n"
        "print(Distribution._validate_args)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.stdout.strip() == "True", r.stdout + r.stderr[-2000:]
