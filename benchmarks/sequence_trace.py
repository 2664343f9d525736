"""Predicted against recorded: one test window of a sequence task, as each trained run predicts it.

Loads the checkpoints of run folders (``adamnode train`` or the seed folders of ``adamnode compare``)
of ``planevibration`` or ``walker2d``, predicts the first test window with each, and plots one channel:
the recorded signal, and each run's next-step predictions over the window (plane vibration: then its
forecast after the window, from the state alone):

    python benchmarks/sequence_trace.py runs/compare-planevibration-seeds3/*-seed0 --channel 2 \\
        --out docs/results/planevibration/trace.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure

from adamnode.tasks import get_task
from adamnode.training.checkpoint import load_checkpoint
from adamnode.config.settings import config_from_settings

TASKS = ("planevibration", "walker2d")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders written by adamnode train or compare")
    parser.add_argument("--channel", type=int, default=2, help="the channel to plot (plane: 2 = Acceleration1)")
    parser.add_argument("--window", type=int, default=0, help="which test window (default: the first)")
    parser.add_argument("--out", required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    recorded = None
    for run in args.runs:
        state = load_checkpoint(Path(run) / "checkpoint.pt")
        settings = state["settings"]
        if settings["task"] not in TASKS:
            parser.error(f"{run} is a {settings['task']} run; this plots {' or '.join(TASKS)} runs")
        task = get_task(settings["task"])
        _, test = task.load(settings, torch.device("cpu"))
        model = task.build_model(settings["model"], config_from_settings(settings).solver, settings)
        model.load_state_dict(state["model"])
        model.eval()
        inputs, targets = test.inputs[args.window:args.window + 1], test.targets[args.window:args.window + 1]
        with torch.no_grad():
            predicted = model(inputs)[0, :, args.channel]
        steps = torch.arange(1, len(predicted) + 1)
        if recorded is None:
            recorded = targets[0, :, args.channel]
            axes.plot(steps, recorded, color="black", linewidth=2, label="recorded")
            if task.forecast:
                axes.axvline(inputs.shape[1], color="grey", linestyle=":", label="window ends, forecast begins")
        axes.plot(steps, predicted, label=f"{settings['model']} (seed {settings['seed']})")
    axes.set_xlabel("steps after the window's first observation")
    axes.set_ylabel(task.channel_names[args.channel] if task.channel_names else f"channel {args.channel}")
    axes.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
