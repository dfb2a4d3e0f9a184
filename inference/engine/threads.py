"""How many threads torch uses for an engine step: whichever count has been faster lately.

A worker given two cores shares them with the web server, Redis, PostgreSQL and whatever
else runs on the host. Two OpenMP threads wait for each other at every operation, so when
one of them is descheduled the step stalls (measured here: with the load average at 7 on
2 cores, 2 threads ran a decode step 3 to 7 times slower than 1); when the cores are free,
two threads read the weights nearly twice as fast. No fixed count is right for both, so
the engine times its steps: per kind of step and batch size (rows rounded to a power of
two), an average of the recent step times for each thread count, the faster count used,
and the other tried again every ``explore_every`` steps to notice when the host changed.
"""

import time

import torch


class ThreadChooser:
    def __init__(self, most: int, *, explore_every: int = 32, weight: float = 0.3):
        self.choices = sorted({1, max(1, most)})
        self.explore_every = explore_every
        self.weight = weight
        self.averages: dict[tuple[str, int, int], float] = {}
        self.steps = 0

    def pick(self, kind: str, rows: int) -> int:
        if len(self.choices) == 1:
            return self.choices[0]
        self.steps += 1
        bucket = max(1, rows).bit_length()
        untried = [t for t in self.choices if (kind, bucket, t) not in self.averages]
        if untried:
            return untried[0]
        ranked = sorted(self.choices, key=lambda t: self.averages[(kind, bucket, t)])
        return ranked[-1] if self.steps % self.explore_every == 0 else ranked[0]

    def record(self, kind: str, rows: int, threads: int, seconds: float) -> None:
        key = (kind, max(1, rows).bit_length(), threads)
        previous = self.averages.get(key)
        self.averages[key] = (
            seconds if previous is None else previous + self.weight * (seconds - previous)
        )

    def run(self, kind: str, rows: int, step):
        """Runs ``step()`` with the chosen thread count, timing it."""
        threads = self.pick(kind, rows)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        started = time.perf_counter()
        result = step()
        self.record(kind, rows, threads, time.perf_counter() - started)
        return result
