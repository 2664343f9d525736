"""A task's extra test metrics: summed over test batches like the headline one, recorded and tabulated."""

import torch

from adamnode.reports import find_runs, summarize
from adamnode.reports.table import to_csv, to_markdown
from adamnode.tasks.spheres import SpheresTask
from adamnode.config.settings import resolve_config
from adamnode.training.run import train_run
from adamnode.training.trainer import Trainer
from adamnode.store import RunFolder, read_table


class SpheresWithErrorRate(SpheresTask):
    """Spheres, also reporting the error rate: 1 - accuracy, batch by batch."""

    extra_metrics = ("error_rate",)

    def extra_metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> list[tuple[torch.Tensor, int]]:
        return [((output.argmax(dim=1) != target).sum(), len(target))]


def test_an_extra_metric_is_recorded_per_epoch_and_agrees_with_the_headline(tmp_path):
    # 64 test points in batches of 16: four batches to sum over.
    config = resolve_config({"model": "hbnode", "preset": "tiny", "batch_size": 16, "epochs": 2})
    trainer = Trainer(config, SpheresWithErrorRate(), RunFolder(tmp_path), torch.device("cpu"), show_progress=False)
    trainer.fit()
    rows = read_table(tmp_path / "metrics.csv")
    assert len(rows) == 2
    for row in rows:
        assert abs(row["test_error_rate"] - (1 - row["test_accuracy"])) < 1e-12


def test_the_extra_metric_reaches_the_comparison_table(tmp_path, monkeypatch):
    monkeypatch.setattr(SpheresTask, "extra_metrics", ("error_rate",))
    monkeypatch.setattr(SpheresTask, "extra_metric_terms", SpheresWithErrorRate.extra_metric_terms)
    train_run(resolve_config({"model": "node", "preset": "tiny"}), RunFolder(tmp_path / "node"), show_progress=False, log=None)
    records = find_runs(tmp_path)
    assert records[0].extra_metrics == ("error_rate",)
    rows = summarize(records)
    assert "test error_rate" in to_markdown(rows, "accuracy", records[0].extra_metrics)
    assert "test_error_rate_mean" in to_csv(rows, "accuracy", records[0].extra_metrics)
