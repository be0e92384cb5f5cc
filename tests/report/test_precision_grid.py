"""The compact per-cell grids of precision-check's JSON: what the standard `json` module loads
from the text is each cell's digits to 0.1 and its class, exactly as the map holds them, in a
few bytes a cell."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gaussdiag.precision import (
    CELL_CLASSES,
    CellClass,
    NormalSweep,
    ScaleParam,
    make_axis,
    sweep_mvn,
    sweep_normal,
)
from gaussdiag.report.precision_grid import CLASS_KEY, CLASS_LETTERS, Grid, dumps
from gaussdiag.report.precision_json import sweep_json, sweep_text
from gaussdiag.vocab import DType


@pytest.fixture(scope="module")
def normal() -> NormalSweep:
    return sweep_normal(DType.FLOAT32, ScaleParam.SCALE, make_axis("sigma", 1e-12, 1e12, 40),
                        make_axis("z", 1e-4, 1e20, 39, zero=True))


def test_every_class_has_one_letter() -> None:
    assert set(CLASS_LETTERS) == set(CellClass)
    assert len(set(CLASS_LETTERS.values())) == len(CellClass)
    assert all(len(v) == 1 and v.isascii() for v in CLASS_LETTERS.values())
    assert {CLASS_KEY[CLASS_LETTERS[c]] for c in CellClass} == {c.value for c in CellClass}


def test_the_loaded_grids_are_the_map(normal: NormalSweep) -> None:
    """Cell by cell: digits within 0.05 of the map's (null where it has none), the letter's
    class the map's class."""
    data = json.loads(sweep_text(normal))
    assert data["class_key"] == CLASS_KEY
    for qm in normal.quantities:
        grid = data["quantities"][qm.name]
        assert len(grid["digits"]) == len(grid["class"]) == len(normal.sigma)
        for i in range(len(normal.sigma)):
            row_digits, row_class = grid["digits"][i], grid["class"][i]
            assert len(row_digits) == len(row_class) == len(normal.z)
            for j, (d, letter) in enumerate(zip(row_digits, row_class, strict=True)):
                want = float(qm.digits[i, j])
                where = (qm.name, i, j, want, d)
                if math.isnan(want):
                    assert d is None, where
                else:
                    assert d is not None and abs(d - want) <= 0.05 + 1e-12, where
                    assert d == round(d, 1), where
                assert data["class_key"][letter] == CELL_CLASSES[int(qm.codes[i, j])].value


def test_the_text_and_the_data_agree(normal: NormalSweep) -> None:
    """`sweep_json` (the data, for a program) is what `sweep_text` (the file) loads to."""
    assert json.loads(sweep_text(normal)) == sweep_json(normal)


def test_a_few_bytes_a_cell() -> None:
    """A digits cell is 5 bytes (` 7.2,`) and a class cell 1: under 7 bytes a cell of each
    quantity's grids, row ends included (a float and a class name per cell took about 50)."""
    big = sweep_normal(DType.FLOAT32, ScaleParam.SCALE, make_axis("sigma", 1e-12, 1e12, 200),
                       make_axis("z", 1e-4, 1e20, 199, zero=True))
    data = sweep_json(big)
    rest = json.dumps({**data, "quantities": {k: {} for k in data["quantities"]}}, indent=2)
    grid_bytes = len(sweep_text(big)) - len(rest)
    assert grid_bytes < 7 * 200 * 200 * len(big.quantities)


def test_mvn_grids_are_compact_too() -> None:
    sweep = sweep_mvn(DType.FLOAT32, 4, make_axis("cond", 1.0, 1e16, 9))
    data = json.loads(sweep_text(sweep))
    for ln in sweep.lines:
        got = data["quantities"][ln.param.value][ln.name]
        assert [data["class_key"][c] for c in got["class"]] == [c.value for c in ln.classes]
        for d, want in zip(got["digits"], ln.digits, strict=True):
            assert (d is None) if math.isnan(want) else abs(d - want) <= 0.05 + 1e-12


def test_grid_edges() -> None:
    """Digits at the cap round like any other; all-NaN rows are nulls; the rows sit one a
    line under their key."""
    digits = np.array([[7.2247, 0.0, 0.04999], [np.nan, np.nan, 3.35]])
    codes = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.int8)
    text = dumps({"q": {"digits": "\x00d", "class": "\x00c"}},
                 {"\x00d": Grid(digits=digits), "\x00c": Grid(codes=codes)})
    data = json.loads(text)
    assert data["q"]["digits"] == [[7.2, 0.0, 0.0], [None, None, 3.4]]
    assert data["q"]["class"] == ["".join(CLASS_LETTERS[CELL_CLASSES[k]] for k in row)
                                  for row in codes.tolist()]
    assert '\n      [ 7.2, 0.0, 0.0],\n      [null,null, 3.4]\n    ]' in text
