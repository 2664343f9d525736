"""The stop board of ``adamnode compare --backend ray`` (``training.ray_cluster``): a Ray actor.

Kept out of ``adamnode.training``, whose import brings torch: the actor's worker process starts with
this module alone, in a fraction of a second, instead of competing for seconds with the first run.
"""

from __future__ import annotations

import asyncio


class StopBoard:
    """A Ray actor (asynchronous: every running task waits on it at once): the driver's stop requests,
    and how often each run has begun (a run that begins again is a retry after its worker died, and
    resumes)."""

    def __init__(self):
        self.stops = 0
        self.attempts: dict[int, int] = {}
        self.changed = asyncio.Condition()

    async def begin(self, position: int) -> int | None:
        """This attempt's number, or None once a stop was asked for (the run does not start)."""
        if self.stops:
            return None
        self.attempts[position] = self.attempts.get(position, 0) + 1
        return self.attempts[position]

    async def attempts_so_far(self) -> dict[int, int]:
        """How often each run has begun, by its position."""
        return dict(self.attempts)

    async def stop(self, count: int) -> None:
        async with self.changed:
            self.stops = max(self.stops, count)
            self.changed.notify_all()

    async def requests(self, known: int, seconds: float) -> int:
        """The stop requests so far, as soon as there are more than ``known``, or after ``seconds``."""
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: self.stops > known), seconds)
            except asyncio.TimeoutError:
                pass
            return self.stops


