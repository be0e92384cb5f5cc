"""Region descriptions and the findings of a Normal map."""

from __future__ import annotations

import numpy as np
import pytest

from gaussdiag.precision import CellClass, NormalSweep, describe_region

S5, Z5 = (1.0, 2.0, 3.0), (0.0, 1.0, 2.0, 3.0)


@pytest.mark.parametrize(("mask", "text"), [
    pytest.param([[0, 0, 1, 1]] * 3, "for z >= 2", id="suffix"),
    pytest.param([[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1]],
                 "for z >= 1 at sigma = 3, up to z >= 3 at sigma = 1", id="moving-suffix"),
    pytest.param([[1, 1, 0, 0]] * 3, "for z <= 1", id="prefix"),
    pytest.param([[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], "at z = 1 for sigma in [1, 2]",
                 id="column"),
    pytest.param([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], "scattered", id="scattered"),
    pytest.param([[0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 0, 0]],
                 "for z from 1 up to 2..3 (upper edge depends on sigma) for sigma in [1, 2]",
                 id="moving-upper-edge"),
    pytest.param([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], "for every z at 2 of 3 sigma",
                 id="rows-with-a-hole"),
    pytest.param([[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], "for z >= 3 at sigma = 1",
                 id="one-cell"),
])
def test_describe_region(mask: list[list[int]], text: str) -> None:
    assert text in describe_region([[bool(v) for v in r] for r in mask], S5, Z5)


def test_band_with_a_stray_gap_on_a_large_grid() -> None:
    """A 1000 x 1000 band z >= column 400 with 20 holes: a band with its gap count, the same
    words a small grid gets (the description works on whole rows, not cells)."""
    sigma = tuple(float(i + 1) for i in range(1000))
    z = tuple(float(j) for j in range(1000))
    mask = np.zeros((1000, 1000), dtype=bool)
    mask[:, 400:] = True
    holes = np.random.default_rng(0).choice(np.arange(401, 999), size=20, replace=False)
    mask[np.arange(20), holes] = False
    assert describe_region(mask, sigma, z) == "for z >= 400, except 20 cells"


def test_findings_count_every_class_cell(sweep32: NormalSweep) -> None:
    """Each finding's cell count is the number of cells of its class, and a quantity with no
    finding is accurate everywhere."""
    for qm in sweep32.quantities:
        mine = [f for f in sweep32.findings if f.quantity == qm.name]
        flat = [c for row in qm.classes for c in row]
        for f in mine:
            assert f.total == len(flat)
            if f.cell_class is not CellClass.ACCURATE:
                assert f.cells == flat.count(f.cell_class), f.text
        shown = {f.cell_class for f in mine}
        assert shown == ({c for c in flat if c is not CellClass.ACCURATE} or {CellClass.ACCURATE})
