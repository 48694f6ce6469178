"""Progress bars that also report into batch logs.

rich draws its bars live only on an interactive terminal; where the output goes to a file or a pipe (a batch
job's log, ``nohup``, a CI step) it shows them once, when they are finished, so an hour of simulation leaves no
sign of life until its end. :class:`Progress` is rich's, plus a plain line per task there, as the work advances
and at most every ``log_interval`` seconds: where the work stands (with the task's own fields, such as the
events done), how long it has run and how long is left.

:func:`work_bar` is a bar for long work deep in a component that is given no progress setting (an estimator's
``fit``, scikit-learn style): it is drawn only inside :func:`work_bars`, which the engine opens where the
command shows progress and no other bar is live.

May import: the standard library and rich.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from rich import progress as rich_progress
from rich.console import Console
from rich.progress import TaskID

__all__ = ["Progress", "work_bar", "work_bars"]

#: whether :func:`work_bar` draws (set by :func:`work_bars`)
_WORK_BARS: ContextVar[bool] = ContextVar("showerlearn_work_bars", default=False)

#: seconds between two plain lines of a task where no bar can be drawn
DEFAULT_LOG_INTERVAL = 30.0


class Progress(rich_progress.Progress):
    """:class:`rich.progress.Progress`, with plain progress lines where the console is not a terminal."""

    def __init__(self, *columns: Any, log_interval: float | None = None, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._log_interval = DEFAULT_LOG_INTERVAL if log_interval is None else log_interval
        self._last_line: dict[TaskID, float] = {}

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> TaskID:
        task = super().add_task(description, *args, **kwargs)
        self._last_line[task] = time.monotonic()
        return task

    def update(self, task_id: TaskID, *args: Any, **kwargs: Any) -> None:
        super().update(task_id, *args, **kwargs)
        self._report(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._report(task_id)

    def remove_task(self, task_id: TaskID) -> None:
        super().remove_task(task_id)
        self._last_line.pop(task_id, None)

    def _report(self, task_id: TaskID) -> None:
        # where rich draws live (a terminal, Jupyter) it needs no lines; a dumb terminal gets them
        if self.disable or self.console.is_interactive or self.console.is_jupyter:
            return
        with self._lock:  # one line per interval, whichever thread advances the task
            now = time.monotonic()
            if now - self._last_line.get(task_id, now) < self._log_interval:
                return
            self._last_line[task_id] = now
            task = self._tasks[task_id]
            line = progress_line(task.description, task.completed, task.total, task.elapsed, task.time_remaining,
                                 task.fields)
        self.console.print(line, highlight=False)  # outside the lock: printing takes the live display's


def progress_line(description: str, completed: float, total: float | None, elapsed: float | None,
                  remaining: float | None, fields: Mapping[str, Any] | None = None) -> str:
    """``simulating: 4,000 of 20,000 (20 %), hits 39,053, 0:00:31 elapsed, about 0:02:04 left`` (what is known of
    it; ``fields``: the task's own numbers, such as the events of a bar that counts files)."""
    done = f"{completed:,.0f}" if total is None else f"{completed:,.0f} of {total:,.0f} ({100 * completed / max(total, 1e-12):.0f} %)"
    parts = [f"{description}: {done}"]
    parts += [f"{name} {value:,.0f}" for name, value in (fields or {}).items()
              if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if elapsed is not None:
        parts.append(f"{_clock(elapsed)} elapsed")
    if remaining is not None and total is not None and completed < total:
        parts.append(f"about {_clock(remaining)} left")
    return ", ".join(parts)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@contextmanager
def work_bars(enabled: bool = True) -> Iterator[None]:
    """Within it, :func:`work_bar` draws its bars (``enabled``), or none (a command run with ``--no-progress``,
    a worker of a parallel sweep)."""
    token = _WORK_BARS.set(enabled)
    try:
        yield
    finally:
        _WORK_BARS.reset(token)


@contextmanager
def work_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar of ``total`` steps and the function that advances it by its argument; inside :func:`work_bars` only
    (elsewhere the function does nothing)."""
    if not _WORK_BARS.get():
        yield lambda steps: None
        return
    columns = (rich_progress.TextColumn("[bold]{task.description}[/]"), rich_progress.BarColumn(bar_width=20),
               rich_progress.MofNCompleteColumn(), rich_progress.TimeElapsedColumn(), rich_progress.TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:  # stdout stays for a command's output
        task = bar.add_task(description, total=total)
        yield lambda steps: bar.advance(task, steps)
