"""The training loop: seeded batches drawn by index, evaluation, per-epoch records, checkpoints.

The whole split lives on the device; an epoch is a permutation drawn from a dedicated
``torch.Generator`` whose state at the epoch's start is checkpointed, so a run resumed midway
redraws the same permutation and continues at the same step. Checkpoints are written after every
epoch, on a stop request, and inside an epoch once ``config.checkpoint_minutes`` have passed since
the last one: an epoch of a large task can take hours, and a kill -9 should not cost all of it.

Under torchrun each rank trains on its shard of every global batch through DDP and evaluates
whole test batches dealt out in turn; the sums a step or an evaluation reports are added over
the ranks first, so every rank records the same numbers and takes the same decisions.
"""

from __future__ import annotations

import math
import time

import torch
from tqdm import tqdm

from ..errors import CheckpointError, Diverged
from ..nets.sizing import count_parameters
from ..solve import SolverError
from ..store import RunFolder, is_main_process, write_table
from ..tasks.base import Split, Task
from .checkpoint import save_checkpoint
from ..config.settings import TrainConfig
from .distributed import all_sum, data_parallel, shard, shared_failure, stripe, world_size
from .interrupt import StopRequest
from .metrics import EvaluationCounter, Totals, metric_columns
from .rng import capture_rng, restore_rng, seed_everything
from .runtime import usable_threads
from .steps import StepLog


class StopRequested(Exception):
    """Raised between steps once the user asked to stop; the trainer's state is consistent."""


class Trainer:
    """Trains ``config.model`` on ``task``, writing its metrics, checkpoints and (with
    ``config.log_every``) per-step log into ``folder``."""

    def __init__(self, config: TrainConfig, task: Task, folder: RunFolder, device: torch.device,
                 show_progress: bool = True):
        self.config, self.task, self.folder, self.device = config, task, folder, device
        self.show_progress = show_progress and is_main_process()
        settings = config.settings()
        if config.threads is not None:
            torch.set_num_threads(usable_threads(config.threads))
        seed_everything(config.seed)
        self.train_split, self.test_split = task.load(settings, device)
        self.model = task.build_model(config.model, config.solver, settings).to(device)
        # Training steps go through the wrapper; state, counters and evaluation use the model itself,
        # so checkpoints hold the same keys with or without DDP.
        self.network = data_parallel(self.model, device)
        self.parameters = count_parameters(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, step_size=config.lr_decay_every or 1, gamma=config.lr_decay)
        self.batch_generator = torch.Generator().manual_seed(config.seed)
        self.counter = EvaluationCounter(self.model)
        self.columns = metric_columns(task.metric, task.extra_metrics)
        self.history: list[dict] = []
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.totals = Totals()
        self.step_log = StepLog(folder.steps, config.log_every)
        # Wall time spent in fit() so far, carried over resumes: steps.csv's clock.
        self.wall_seconds_before, self.wall_start = 0.0, None
        self.epoch_start_generator = self.batch_generator.get_state()
        self.stop = StopRequest()
        self.stopping = False
        self.evaluating = False
        self.last_save = time.monotonic()
        self.checkpoint_due = False

    @property
    def steps_per_epoch(self) -> int:
        batches = math.ceil(len(self.train_split) / self.config.batch_size)
        return min(batches, self.config.max_steps or batches)

    def done(self) -> str:
        """How far the run got, for messages."""
        return f"{self.epoch} epoch(s) and {self.step_in_epoch} step(s)"

    def position(self) -> str:
        """Where the run is, for messages: the epoch and the step or evaluation under way."""
        within = "test evaluation" if self.evaluating else f"step {self.step_in_epoch + 1}"
        return f"epoch {self.epoch + 1}, {within}"

    @property
    def wall_seconds(self) -> float:
        running = time.perf_counter() - self.wall_start if self.wall_start is not None else 0.0
        return self.wall_seconds_before + running

    def fit(self) -> None:
        """Train until ``config.epochs`` epochs are complete, checkpointing after each."""
        self.wall_start = time.perf_counter()
        while self.epoch < self.config.epochs:
            self._train_epoch()
            self._finish_epoch()
            self.save()
            if all_sum([int(self.stop.requested)], self.device)[0]:
                raise StopRequested

    def _train_epoch(self) -> None:
        batch_size, steps = self.config.batch_size, self.steps_per_epoch
        self.batch_generator.set_state(self.epoch_start_generator)
        order = torch.randperm(len(self.train_split), generator=self.batch_generator).to(self.device)
        self.model.train()
        self.counter.since_last()
        seconds_before, start = self.totals.seconds, time.perf_counter()
        with self._progress_bar(steps) as bar:
            for step in range(self.step_in_epoch, steps):
                if self.stopping:
                    raise StopRequested
                index = order[step * batch_size:(step + 1) * batch_size]
                loss, nfe_forward, nfe_backward = self._step(index)
                self.totals.seconds = seconds_before + time.perf_counter() - start
                self.step_in_epoch, self.global_step = step + 1, self.global_step + 1
                self.step_log.add(self.epoch + 1, self.global_step, len(index), loss, nfe_forward, nfe_backward,
                                  self.wall_seconds, write=is_main_process())
                bar.update()
                bar.set_postfix(loss=f"{self.totals.mean_loss:.4f}", nfe=f"{nfe_forward:g}/{nfe_backward:g}",
                                refresh=False)
                if self.checkpoint_due and self.step_in_epoch < steps:  # the epoch's end saves anyway
                    self.save()

    def _step(self, index: torch.Tensor) -> tuple[float, float, float]:
        """One update on the global batch ``index``; returns its mean loss and NFE (forward, backward),
        the NFE a mean over ranks."""
        part, count = shard(index)
        inputs, targets = self.train_split.batch(part)
        failure, terms = None, [0.0, 0, 0, 1, 0.0]
        try:
            output = self.network(inputs)
            loss = self.task.loss(output, targets)
            # Every block's solve penalty (--kinetic, --jacobian; a constant 0 when off) joins the
            # loss for the update only: train_loss stays the task's loss, the penalty has its column.
            penalty = sum(block.penalty for block in self.counter.blocks)
            numerator, denominator = self.task.metric_terms(output.detach(), targets)
            used = min(count, 1)
            terms = [loss.detach().double() * count, numerator * used, denominator * used, 0,
                     torch.as_tensor(penalty).detach().double() * count]
        except SolverError as error:
            failure = error
        # Summed before backward, so that a NaN or a failed solve on any rank stops every rank here.
        loss_sum, numerator, denominator, failures, penalty_sum = all_sum(terms, self.device)
        if failures:
            raise shared_failure(failure)
        loss_value, penalty_value = loss_sum / len(index), penalty_sum / len(index)
        if not math.isfinite(loss_value):
            raise Diverged(f"the loss became {loss_value} at {self.position()}")
        if not math.isfinite(penalty_value):
            raise Diverged(f"the solve penalty (--kinetic, --jacobian) became {penalty_value} at {self.position()}")
        # DDP averages the ranks' gradients; weighting each rank's mean by its share of the batch
        # turns that average into the gradient of the global batch's mean, split evenly or not.
        weight = count * world_size() / len(index)
        loss = loss + penalty
        self._update(loss if weight == 1 else loss * weight)
        # Summed so that every rank agrees on stopping and on checkpointing (clocks differ by rank).
        due = time.monotonic() - self.last_save >= 60 * self.config.checkpoint_minutes
        nfe_forward, nfe_backward, stops, dues = all_sum(
            [*self.counter.since_last(), int(self.stop.requested), int(due)], self.device)
        self.stopping, self.checkpoint_due = stops > 0, dues > 0
        nfe_forward, nfe_backward = nfe_forward / world_size(), nfe_backward / world_size()
        self.totals.add(len(index), loss_value, float(numerator), float(denominator), nfe_forward, nfe_backward)
        self.totals.penalty_sum += penalty_value
        return loss_value, nfe_forward, nfe_backward

    def _update(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # The norm is needed anyway for clipping; checking it stops NaN/Inf gradients (possible with a
        # finite loss, e.g. from a backward solve) before they corrupt the weights. After DDP's
        # all-reduce the gradients, and so this verdict, are the same on every rank.
        max_norm = self.config.grad_clip if self.config.grad_clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        if not math.isfinite(norm.item()):
            raise Diverged(f"the gradient became {norm.item()} at {self.position()}")
        self.optimizer.step()
        self.scheduler.step()

    def _progress_bar(self, steps: int) -> tqdm:
        return tqdm(total=steps, initial=self.step_in_epoch, leave=False, unit="step", dynamic_ncols=True,
                    desc=f"{self.config.model} epoch {self.epoch + 1}/{self.config.epochs}",
                    disable=None if self.show_progress else True)

    def _finish_epoch(self) -> None:
        train, metric = self.totals, self.task.metric
        test = self.evaluate(self.test_split)
        self.history.append({
            "epoch": self.epoch + 1, "steps": train.steps,
            "train_loss": train.mean_loss,
            f"train_{metric}": self.task.finalize_metric(train.metric_numerator, train.metric_denominator),
            "test_loss": test.mean_loss,
            f"test_{metric}": self.task.finalize_metric(test.metric_numerator, test.metric_denominator),
            **{f"test_{name}": self.task.finalize_metric(*test.extra_sums[2 * i:2 * i + 2])
               for i, name in enumerate(self.task.extra_metrics)},
            "nfe_forward": train.per_step(train.nfe_forward), "nfe_backward": train.per_step(train.nfe_backward),
            "test_nfe_forward": test.per_step(test.nfe_forward),
            "seconds": train.seconds, "test_seconds": test.seconds,
            "lr": self.optimizer.param_groups[0]["lr"],
            "penalty": train.mean_penalty,
        })
        self.epoch += 1
        self.step_in_epoch = 0
        self.totals = Totals()
        self.epoch_start_generator = self.batch_generator.get_state()

    @torch.no_grad()
    def evaluate(self, split: Split) -> Totals:
        """Loss, metric and forward NFE over ``split``, batch by batch.

        Under torchrun the ranks share out whole batches, each the batch a single process would
        solve, so the sums equal a single process's even where adaptive steps depend on the batch.
        """
        self.model.eval()
        self.evaluating = True
        totals, start, failure = Totals(), time.perf_counter(), None
        extra = [0.0] * (2 * len(self.task.extra_metrics))
        self.counter.since_last()
        try:
            for begin in stripe(range(0, len(split), self.config.batch_size)):
                inputs = split.inputs[begin:begin + self.config.batch_size]
                targets = split.targets[begin:begin + self.config.batch_size]
                output = self.model(inputs)
                numerator, denominator = self.task.metric_terms(output, targets)
                nfe_forward, _ = self.counter.since_last()
                totals.add(len(targets), float(self.task.loss(output, targets)), float(numerator),
                           float(denominator), nfe_forward, 0)
                terms = self.task.extra_metric_terms(output, targets)
                extra = [total + float(term) for total, term in zip(extra, (t for pair in terms for t in pair))]
        except SolverError as error:
            failure = error
        sums = all_sum([totals.samples, totals.steps, totals.loss_sum, totals.metric_numerator,
                        totals.metric_denominator, totals.nfe_forward, *extra, int(failure is not None)], self.device)
        if sums[-1]:
            raise shared_failure(failure)
        totals = Totals(int(sums[0]), int(sums[1]), *sums[2:6], extra_sums=list(sums[6:-1]))
        totals.seconds = time.perf_counter() - start
        self.model.train()
        self.evaluating = False
        return totals

    def save(self) -> None:
        """Write the checkpoint and ``metrics.csv`` for the current position (main process only)."""
        self.last_save = time.monotonic()
        if not is_main_process():
            return
        # metrics.csv and steps.csv first: the checkpoint is the commit point, so a kill between the
        # writes leaves them at most one checkpoint ahead, and a resume rewrites them from the checkpoint.
        write_table(self.folder.metrics, self.columns, self.history)
        self.step_log.commit(self.global_step)
        save_checkpoint(self.folder.checkpoint, self.state_dict())

    def state_dict(self) -> dict:
        return {
            "settings": self.config.settings(), "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "rng": capture_rng(), "batch_generator": self.epoch_start_generator,
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
            "totals": self.totals.as_dict(), "history": self.history,
            "step_window": self.step_log.state_dict(), "wall_seconds": self.wall_seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint; ``CheckpointError`` if it does not fit this model."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.totals = Totals(**state["totals"])
            restore_rng(state["rng"])
            self.batch_generator.set_state(state["batch_generator"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            reason = " ".join(str(error).split())[:160]
            raise CheckpointError(f"{self.folder.checkpoint} does not fit a {self.config.model} model on "
                                  f"{self.task.name} ({reason}); start the run again with --overwrite") from None
        if state["step_in_epoch"] > self.steps_per_epoch:
            raise CheckpointError(f"{self.folder.checkpoint} is at step {state['step_in_epoch']} of an epoch of "
                                  f"{self.steps_per_epoch} steps; it is damaged, start the run again with --overwrite")
        # metrics.csv is rewritten from the history: each epoch must have this task's columns.
        lacking = next(((row["epoch"], key) for row in state["history"] for key in self.columns
                        if key not in row), None)
        if lacking is not None:
            raise CheckpointError(f"{self.folder.checkpoint} holds no {lacking[1]} for epoch {lacking[0]}, which "
                                  f"{self.task.name} records; it is damaged, start the run again with --overwrite")
        self.epoch_start_generator = state["batch_generator"]
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step = state["global_step"]
        self.history = state["history"]
        self.step_log.load_state_dict(state["step_window"])
        self.wall_seconds_before = state["wall_seconds"]
