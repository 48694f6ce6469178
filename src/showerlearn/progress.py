"""Progress bars that also report into batch logs.

rich draws its bars live only on a terminal; where the output goes to a file or a pipe (a batch job's log,
``nohup``, a CI step) it shows them once, when they are finished, so an hour of simulation leaves no sign of
life until its end. :class:`Progress` is rich's, plus one plain line per task every ``log_interval`` seconds
when the console is not a terminal: where the work stands, how long it has run and how long is left.

May import: the standard library and rich.
"""

from __future__ import annotations

import time
from typing import Any

from rich import progress as rich_progress
from rich.progress import TaskID

__all__ = ["Progress"]

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

    def _report(self, task_id: TaskID) -> None:
        if self.disable or self.console.is_terminal:
            return
        now = time.monotonic()
        if now - self._last_line.get(task_id, now) < self._log_interval:
            return
        self._last_line[task_id] = now
        with self._lock:
            task = self._tasks[task_id]
        self.console.print(progress_line(task.description, task.completed, task.total, task.elapsed, task.time_remaining),
                           highlight=False)


def progress_line(description: str, completed: float, total: float | None, elapsed: float | None,
                  remaining: float | None) -> str:
    """``simulating: 4,000 of 20,000 (20 %), 0:00:31 elapsed, about 0:02:04 left`` (what is known of it)."""
    done = f"{completed:,.0f}" if total is None else f"{completed:,.0f} of {total:,.0f} ({100 * completed / max(total, 1e-12):.0f} %)"
    parts = [f"{description}: {done}"]
    if elapsed is not None:
        parts.append(f"{_clock(elapsed)} elapsed")
    if remaining is not None and total is not None and completed < total:
        parts.append(f"about {_clock(remaining)} left")
    return ", ".join(parts)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
