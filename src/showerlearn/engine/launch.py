"""Which process of a multi-process job this is, read from what its launcher set; what stopped a process from outside.

Lightning's own DDP launcher re-runs the command line once per extra device; those processes find
rank 0's run folder in :data:`RUN_DIR_VARIABLE`. Cluster launchers (``torchrun``, ``srun``,
``mpirun``, and Lightning's launcher on every node but the first) start each process themselves and
give it its rank in the environment: only the process where every such rank is 0 creates the run
folder, and all of them must be pointed at the same one (``showerlearn train --run-dir``).
"""

from __future__ import annotations

import os
import signal

__all__ = [
    "RUN_DIR_VARIABLE", "interruption", "interruption_status", "launched_rank", "note_stop_signal", "started_by_lightning",
    "stop_signal",
]

#: set by the launching process so that the DDP processes Lightning starts share its run directory
RUN_DIR_VARIABLE = "SHOWERLEARN_RUN_DIR"

# torchrun / torchelastic, node rank (Lightning, torchrun), SLURM, Open MPI, MPICH / Intel MPI, LSF
_RANK_VARIABLES = (
    "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK",
    "JSM_NAMESPACE_RANK",
)


def started_by_lightning() -> bool:
    """A DDP process that Lightning's launcher started for rank 0's run."""
    return bool(os.environ.get(RUN_DIR_VARIABLE))


def launched_rank() -> int:
    """The largest rank any launcher gives this process: 0 only for the process that owns the run folder."""
    ranks = [os.environ.get(name, "").strip() for name in _RANK_VARIABLES]
    return max((int(rank) for rank in ranks if rank.isdigit()), default=0)


#: the signal that asked this process to stop, once one has (:func:`note_stop_signal`)
_stopped_by: int | None = None


def note_stop_signal(signum: int) -> None:
    """Record that ``signum`` asked this process to stop (the command line's SIGTERM handler does): whatever error
    follows is that stop, not a fault of the command (the exit raised inside an extension module's import comes
    out as an ImportError)."""
    global _stopped_by
    _stopped_by = signum


def stop_signal() -> int | None:
    """The signal that asked this process to stop; None while none has."""
    return _stopped_by


def interruption(error: BaseException) -> str | None:
    """What stopped a command from outside, in words (Ctrl+C, a signal such as a batch system's time limit); None for
    an error of its own. Lightning turns Ctrl+C into ``sys.exit(1)``: its KeyboardInterrupt is the exit's context.
    After a stop signal (:func:`note_stop_signal`) every error is that stop."""
    if isinstance(error, KeyboardInterrupt) or isinstance(error.__context__, KeyboardInterrupt):
        return "interrupted (Ctrl+C)"
    if _stopped_by is not None:
        return f"stopped by {signal.Signals(_stopped_by).name}"
    # Lightning's, where our handler is not installed (the API); by name: the command line imports this module
    # before it may import lightning
    if type(error).__name__ == "SIGTERMException":
        return "stopped by SIGTERM"
    if not isinstance(error, SystemExit) or error.code in (0, None):
        return None
    if isinstance(error.code, int) and error.code > 128:  # 128 + the signal's number, as our SIGTERM handler exits
        try:
            return f"stopped by {signal.Signals(error.code - 128).name}"
        except ValueError:
            pass
    return f"stopped (exit status {error.code})"


def interruption_status(error: BaseException) -> int:
    """The exit status a command stopped from outside ends with: 130 for Ctrl+C (the shell's for SIGINT, which
    Lightning's ``sys.exit(1)`` hides), 128 + the signal's number for a signal, else the exit's own status."""
    if isinstance(error, KeyboardInterrupt) or isinstance(error.__context__, KeyboardInterrupt):
        return 128 + signal.SIGINT
    if _stopped_by is not None:
        return 128 + _stopped_by
    if type(error).__name__ == "SIGTERMException":
        return 128 + signal.SIGTERM
    code = error.code if isinstance(error, SystemExit) else None
    return code if isinstance(code, int) else 1
