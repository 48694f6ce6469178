"""Progress bars that also report into batch logs.

rich draws its bars live only on an interactive terminal; where the output goes to a file or a pipe (a batch
job's log, ``nohup``, a CI step) it shows them once, when they are finished, so an hour of simulation leaves no
sign of life until its end. :class:`Progress` is rich's, plus a plain line per task there, as the work advances
and at most every ``log_interval`` seconds: where the work stands (with the task's own fields, such as the
events done), how long it has run and how long is left.

May import: the standard library and rich.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
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
