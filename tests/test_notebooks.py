"""The committed notebooks: rendered figures, which nbval does not compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
# Each notebook's cells that draw figures, found by the helper they call.
FIGURE_CALLS = {
    "01_deploy_stack.ipynb": "draw_state_machine",
    "03_trigger_latency.ipynb": "draw_figures",
}


def _figure_cell(notebook: str, call: str) -> dict:
    cells = json.loads((NOTEBOOK_DIR / notebook).read_text())["cells"]
    return next(cell for cell in cells if call in "".join(cell["source"]))


@pytest.mark.parametrize(("notebook", "call"), FIGURE_CALLS.items())
def test_committed_figures_are_png(notebook, call):
    outputs = _figure_cell(notebook, call)["outputs"]

    assert outputs, f"{notebook}: the {call} cell has no outputs"
    for output in outputs:
        assert "image/png" in output.get("data", {}), f"{notebook}: {output}"
