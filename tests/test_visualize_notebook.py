"""The visualize demo notebook runs on replayed model exchanges and shows rendered plots."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.notebook
def test_visualize_notebook_shows_three_paths_and_a_final_plot(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / ".workbench"))
    nb = nbformat.read(NOTEBOOKS / "04_visualize.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    printed = "".join(out.get("text", "") for cell in code_cells for out in cell.outputs)
    result_html = next(
        out["data"]["text/html"]
        for cell in code_cells
        if "result = visualize(" in cell.source
        for out in cell.outputs
        if "text/html" in out.get("data", {})
    )
    # two path columns plus the aggregated plot, images rendered PNGs
    assert result_html.count("data:image/png;base64,iVBORw0KGgo") >= 2
    assert result_html.count("Path ") >= 2 and "Aggregated plot" in result_html
    for name in ("path-0", "path-1", "final", "final plot:"):
        assert name in printed
    # what the request asks for is printed and held against each attempt
    assert "one series, bar or subplot per value of `region`" in printed
    assert "one series stands out (highlighted)" in printed
    assert "accepted" in printed and "figures open: 0" not in printed
