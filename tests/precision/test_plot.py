"""The precision figures, inspected as matplotlib objects: legend entries, titles, ticks and
cell placement (pixels are never compared)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gaussdiag.errors import UsageError  # noqa: E402
from gaussdiag.numbers import sentence as fmt  # noqa: E402
from gaussdiag.precision import (  # noqa: E402
    CELL_CLASSES,
    LARGE_MAGNITUDE,
    CellClass,
    MvnLine,
    MvnParam,
    MvnSweep,
    NormalSweep,
    QuantityMap,
    ScaleParam,
    accurate_digits,
    precision_digits,
)
from gaussdiag.report.plot import figure, write_plot  # noqa: E402
from gaussdiag.report.plot_normal import ZERO_GAP  # noqa: E402
from gaussdiag.vocab import DType  # noqa: E402

C = CellClass
SIGMA = (1e-2, 1.0, 1e2)
Z = (0.0, 1e-1, 1.0, 1e1, 1e2, 1e3)  # 0, then whole powers of ten: each label is predictable
NORMAL_CLASSES = (C.ACCURATE, C.LARGE_BUT_CORRECT, C.INACCURATE, C.OVERFLOW, C.UNDEFINED)


def _qmap(name: str, classes: list[list[CellClass]], cancel_col: int | None) -> QuantityMap:
    codes = np.array([[c.code for c in row] for row in classes], dtype=np.int8)
    cap = precision_digits(DType.FLOAT32)
    digits = np.where(codes == C.INACCURATE.code, 1.0, cap)
    digits[np.isin(codes, [C.OVERFLOW.code, C.UNDEFINED.code])] = np.nan
    cancellation = np.zeros(codes.shape, bool)
    if cancel_col is not None:
        cancellation[:, cancel_col] = codes[:, cancel_col] == C.INACCURATE.code
    return QuantityMap(name, digits, codes, np.ones(codes.shape), cancellation)


def normal_sweep(param: ScaleParam = ScaleParam.SCALE, dtype: DType = DType.FLOAT32, *,
                 with_cancellation: bool = True) -> NormalSweep:
    """A 3 x 6 map that holds every Normal class, and a cancellation column at z = 1."""
    a, lg, bad, ov, un = NORMAL_CLASSES
    first = [[a, a, bad, a, lg, ov], [a, a, bad, lg, lg, ov], [un, un, un, un, un, un]]
    plain = [[a] * 6, [a, a, a, a, a, lg], [a] * 6]
    maps = (_qmap("log_prob", first, 2 if with_cancellation else None),
            _qmap(f"grad[{param.raw_name}]", plain, None))
    return NormalSweep(dtype=dtype, param=param, sigma=SIGMA, z=Z, quantities=maps,
                       findings=(), precision_digits=precision_digits(dtype),
                       accurate_digits=accurate_digits(dtype), large=LARGE_MAGNITUDE)


def mvn_sweep() -> MvnSweep:
    """Two condition numbers per parameterization, with every MVN class but undefined."""
    cond = (1.0, 1e4, 1e8)
    rows = {MvnParam.COVARIANCE_MATRIX: (C.ACCURATE, C.INACCURATE, C.FACTORIZATION_FAILED),
            MvnParam.SCALE_TRIL: (C.ACCURATE, C.LARGE_BUT_CORRECT, C.OVERFLOW),
            MvnParam.PRECISION_MATRIX: (C.ACCURATE, C.ACCURATE, C.INACCURATE)}
    lines = tuple(MvnLine(p, "log_prob", tuple(7.0 if c.is_correct else
                                                (2.0 if c is C.INACCURATE else math.nan)
                                                for c in cls), cls, (1.0, 1.0, 1.0))
                  for p, cls in rows.items())
    return MvnSweep(dtype=DType.FLOAT32, dim=3, condition=cond, lines=lines,
                    rounded_indefinite=tuple((p, (False,) * 3) for p in MvnParam),
                    findings=(), precision_digits=precision_digits(DType.FLOAT32),
                    accurate_digits=accurate_digits(DType.FLOAT32),
                    large=LARGE_MAGNITUDE)


def legend_labels(fig: Figure) -> list[str]:
    assert len(fig.legends) == 1, "one legend for the whole figure"
    return [t.get_text() for t in fig.legends[0].get_texts()]


def data_axes(fig: Figure) -> list[Axes]:
    """The panels (the colour bar is an axes too, without images)."""
    return [ax for ax in fig.axes if ax.images]


def classes_in(codes: np.ndarray) -> set[CellClass]:
    return {CELL_CLASSES[k] for k in np.unique(codes).tolist()}


def assert_legend_matches(fig: Figure, present: set[CellClass]) -> None:
    labels = legend_labels(fig)
    for cls in CellClass:
        named = [lab for lab in labels if lab.startswith(cls.value + " (")]
        assert len(named) == (cls in present), (cls, labels)


# ---- legend ------------------------------------------------------------------------------------


def test_legend_has_each_normal_class_present_including_overflow_and_large() -> None:
    fig = figure(normal_sweep())
    assert_legend_matches(fig, set(NORMAL_CLASSES))
    labels = legend_labels(fig)
    assert any(lab.startswith("large-but-correct") and "1e4" in lab for lab in labels), labels
    assert any("cancellation" in lab for lab in labels), labels


def test_overflow_legend_entry_carries_the_cell_marker() -> None:
    """The overflow cells carry an x; its legend entry shows the same x over the fill."""
    fig = figure(normal_sweep())
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    handle = legend.legend_handles[next(i for i, t in enumerate(texts)
                                        if t.startswith("overflow"))]
    assert handle is not None
    sweep = normal_sweep()
    ax = data_axes(figure(sweep))[0]
    rows, cols = np.nonzero(sweep.quantities[0].codes == C.OVERFLOW.code)
    want = sorted(zip((cols + ZERO_GAP).tolist(), rows.tolist(), strict=True))
    marks = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [sorted(map(tuple, c.get_offsets().tolist())) for c in marks] == [want]


def test_legend_lists_only_classes_present() -> None:
    sweep = normal_sweep(with_cancellation=False)
    fig = figure(sweep)
    assert not any("cancellation" in lab for lab in legend_labels(fig))
    assert not any(t.get_text() == "cancellation" for ax in fig.axes for t in ax.texts)


def test_legend_of_a_real_sweep_names_its_classes(sweep32: NormalSweep,
                                                  mvn32: MvnSweep) -> None:
    present = set().union(*(classes_in(qm.codes) for qm in sweep32.quantities))
    assert_legend_matches(figure(sweep32), present)
    assert_legend_matches(figure(mvn32), {c for ln in mvn32.lines for c in ln.classes})


def test_mvn_legend_and_rows() -> None:
    sweep = mvn_sweep()
    fig = figure(sweep)
    assert_legend_matches(fig, {c for ln in sweep.lines for c in ln.classes})
    (ax,) = data_axes(fig)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == [f"{ln.param.value}: {ln.name}" for ln in sweep.lines]


# ---- titles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("param", "written"), [
    (ScaleParam.SCALE, "Normal(loc, scale)"),
    (ScaleParam.SOFTPLUS, "Normal(loc, softplus(rho))"),
    (ScaleParam.LOG, "Normal(loc, exp(log_scale))"),
])
@pytest.mark.parametrize("dtype", [DType.FLOAT32, DType.FLOAT16])
def test_title_names_parameterization_and_dtype(param: ScaleParam, written: str,
                                                dtype: DType) -> None:
    title = figure(normal_sweep(param, dtype)).get_suptitle()
    assert written in title and f"in {dtype.value} against float64" in title, title


def test_mvn_title_names_each_parameterization_dtype_and_dim() -> None:
    title = figure(mvn_sweep()).get_suptitle()
    assert all(p.value in title for p in MvnParam), title
    assert "float32" in title and "dim 3" in title, title


# ---- axes: the z = 0 column and ticks on cells ---------------------------------------------


def _centres(left: float, right: float, n: int) -> list[float]:
    width = (right - left) / n
    return [left + (k + 0.5) * width for k in range(n)]


def test_zero_column_is_drawn_apart_with_its_own_tick() -> None:
    ax = data_axes(figure(normal_sweep()))[0]
    zero_img, log_img = ax.images
    z_left, z_right, _, _ = zero_img.get_extent()
    l_left, _, _, _ = log_img.get_extent()
    assert (z_left, z_right) == (-0.5, 0.5)
    assert l_left - z_right == pytest.approx(ZERO_GAP) and ZERO_GAP > 0
    ticks = dict(zip(ax.get_xticks().tolist(), (t.get_text() for t in ax.get_xticklabels()),
                     strict=True))
    assert ticks.get(0.0) == "0", ticks


def test_ticks_sit_at_cell_centres_with_the_cell_values() -> None:
    ax = data_axes(figure(normal_sweep()))[0]
    zero_img, log_img = ax.images
    left, right, bottom, top = log_img.get_extent()
    x_centres = [0.0, *_centres(left, right, len(Z) - 1)]
    y_centres = _centres(bottom, top, len(SIGMA))
    assert zero_img.get_array().shape[:2] == (len(SIGMA), 1)
    assert log_img.get_array().shape[:2] == (len(SIGMA), len(Z) - 1)
    # every cell has a tick (matplotlib drops the minor ones under a major tick)
    for major, minor, centres in ((ax.get_xticks(), ax.get_xticks(minor=True), x_centres),
                                  (ax.get_yticks(), ax.get_yticks(minor=True), y_centres)):
        assert sorted([*major, *minor]) == pytest.approx(centres)
    for pos, label in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True):
        j = min(range(len(Z)), key=lambda k: abs(x_centres[k] - pos))
        assert pos == pytest.approx(x_centres[j])
        want = "0" if Z[j] == 0 else f"$10^{{{round(math.log10(Z[j]))}}}$"
        assert label.get_text() == want
    for pos, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True):
        i = round(pos)
        assert pos == pytest.approx(y_centres[i])
        assert label.get_text() == f"$10^{{{round(math.log10(SIGMA[i]))}}}$"


def test_cancellation_stripe_is_labelled_at_its_cells() -> None:
    sweep = normal_sweep()
    ax = data_axes(figure(sweep))[0]
    (note,) = [t for t in ax.texts if t.get_text() == "cancellation"]
    x, y = note.xy  # type: ignore[attr-defined]
    column_x = Z.index(1.0) + ZERO_GAP  # the cancellation column, z = 1
    assert x - 0.5 == pytest.approx(column_x)
    assert sweep.quantities[0].cancellation[round(y), Z.index(1.0)]


# ---- writing -----------------------------------------------------------------------------------


def test_write_plot_writes_a_png(tmp_path: Path, sweep32: NormalSweep, mvn32: MvnSweep) -> None:
    for name, result in (("normal.png", sweep32), ("mvn.png", mvn32)):
        path = tmp_path / name
        write_plot(result, path)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, name


def test_write_plot_error_is_located(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "m.png"
    with pytest.raises(UsageError, match="does not exist"):
        write_plot(normal_sweep(), target)
    assert not target.parent.exists()


# ---- --point on the map ----------------------------------------------------------------------


def _marks(ax: Axes) -> list[tuple[float, float]]:
    """Where the --point ring is drawn (its black line, over the white one)."""
    from matplotlib.lines import Line2D

    return [(float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in ax.lines
            if isinstance(ln, Line2D) and ln.get_marker() == "o"
            and ln.get_markeredgecolor() == "black"]


@pytest.mark.parametrize(("point", "at", "inside"), [
    # rows 1e-2, 1, 1e2 at y 0, 1, 2; z 0 at x 0, then 1e-1 .. 1e3 at 1 + ZERO_GAP ..
    pytest.param("scale=1,x=10", (3 + ZERO_GAP, 1.0), True, id="z10-scale1"),
    pytest.param("scale=0.1,x=0.1", (2 + ZERO_GAP, 0.5), True, id="between-rows"),
    pytest.param("loc=3,scale=100,x=3", (0.0, 2.0), True, id="z0"),
    pytest.param("scale=1e5,x=1e9", (5 + ZERO_GAP + 0.5, 2.5), False, id="beyond-the-map"),
])
def test_the_point_is_marked_on_every_panel(point: str, at: tuple[float, float],
                                            inside: bool) -> None:
    from gaussdiag.precision import check_point, parse_point

    sweep = normal_sweep()
    result = check_point(DType.FLOAT32, ScaleParam.SCALE, parse_point(point, ScaleParam.SCALE))
    fig = figure(sweep, result)
    for ax in data_axes(fig):
        assert _marks(ax) == [pytest.approx(at)], (point, _marks(ax))
    (label,) = [lab for lab in legend_labels(fig) if lab.startswith("--point")]
    assert f"scale = {fmt(result.scale)}, z = {fmt(result.z)}" in label
    assert ("beyond the map" in label) == (not inside), label


def test_a_point_on_no_row_is_said_not_drawn() -> None:
    from gaussdiag.precision import check_point, parse_point

    result = check_point(DType.FLOAT32, ScaleParam.SCALE, parse_point("scale=0,x=1",
                                                                      ScaleParam.SCALE))
    fig = figure(normal_sweep(), result)
    assert all(not _marks(ax) for ax in data_axes(fig))
    assert any("on no row of the map" in lab for lab in legend_labels(fig))


def test_cli_point_with_plot_writes_the_marked_map(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    from .refs import run_cli

    target = tmp_path / "point.png"
    code, out, err = run_cli(capsys, "--point", "loc=0,sigma=0.01,x=10", "--plot", str(target),
                             "--quick")
    assert code == 0, err
    assert "large-but-correct" in out  # the point's own report is still printed
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
