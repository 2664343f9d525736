"""The work-precision page drawn from a hand-made record: what the cost table may and may not claim."""

from __future__ import annotations

from adamnode.studies.precision.record import COLUMNS, markdown


def row(model: str, tol: float, nfe: float, grad_error: float) -> dict:
    values = dict.fromkeys(COLUMNS, 0.0)
    values.update(model=model, path="default", tol=tol, steps=None, nfe_forward=nfe, nfe_backward=nfe,
                  ms_per_step=10 * nfe, grad_error=grad_error, status="ok")
    return values


def record(complete: bool = True) -> dict:
    references = [{"model": model, "tol": 1e-10, "check_tol": 1e-12, "adjoint": False, "failure": None,
                   "output_error": 1e-9, "loss_error": 1e-9, "grad_error": error, "field_grad_error": error}
                  for model, error in (("sharp", 1e-9), ("blurred", 5e-4))]
    rows = [row(model, tol, nfe, error) for model in ("sharp", "blurred")
            for tol, nfe, error in ((1e-2, 10, 3e-2), (1e-3, 20, 2e-3), (1e-4, 40, 1e-6))]
    return {"references": references, "rows": rows,
            "settings": {"task": "spheres", "models": ["sharp", "blurred", "third"], "complete": complete}}


def cost_cells(page: str, model: str) -> list[str]:
    line = next(line for line in page.splitlines() if line.startswith(f"| {model} ") and "default" in line)
    return [cell.strip() for cell in line.strip("|").split("|")][2:]


def test_levels_below_the_references_own_error_are_not_resolved_not_claimed():
    page = markdown(record())
    # Levels 1e-1 ... 1e-5: the sharp reference resolves them all; the blurred one (5e-4) only the first three.
    assert cost_cells(page, "sharp") == ["20 / 100 ms (tol 1e-02)", "40 / 200 ms (tol 1e-03)", "80 / 400 ms (tol 1e-04)",
                                         "80 / 400 ms (tol 1e-04)", "80 / 400 ms (tol 1e-04)"]
    assert cost_cells(page, "blurred")[:3] == cost_cells(page, "sharp")[:3]
    assert cost_cells(page, "blurred")[3:] == ["n/r", "n/r"]
    assert "Stopped part-way" not in page


def test_a_study_stopped_part_way_says_so_and_how_to_continue():
    page = markdown(record(complete=False))
    assert "**Stopped part-way**: 2 of 3 models measured (sharp, blurred)" in page
    assert "adamnode precision --resume" in page
