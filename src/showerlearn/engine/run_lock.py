"""One process trains a run folder at a time.

Two processes training into one folder (a benchmark relaunched while the workers of a killed one still run, a
job requeued while its first copy is alive, a user's second ``--resume``) would interleave checkpoints, logs
and run.json into a run that matches neither. The process that owns a run therefore holds an advisory lock on
its folder while it trains. The lock is the kernel's (``flock`` on the folder itself, so no lock file is left
behind): it ends with the process however that ends, a crash or ``kill -9`` included (and with any child it
forked, a DataLoader worker, which exits with it), so there is never a stale lock to clear by hand. Runs are not
locked where ``fcntl`` does not exist (Windows), nor on file systems without ``flock`` (NFS, where it needs a
file open for writing, which a folder cannot be; Lustre mounted without ``-o flock``): there a warning says so.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from collections.abc import Iterator

from showerlearn.config import ConfigError
from showerlearn.engine.run_dir import RunDir

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: what flock fails with where the file system cannot lock (rather than because another process holds the lock)
_NO_LOCKING = {errno.EBADF, errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


@contextlib.contextmanager
def run_lock(run: RunDir) -> Iterator[None]:
    """Hold the lock of ``run`` (whose folder must exist) for the ``with`` block; a ConfigError naming the folder,
    and the process holding it as its run.json records it (:func:`lock_holder`), if another process holds it."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(run.path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(str(run.path), [
                f"another process is training this run{_recorded_holder(run)}: wait for it to end, or stop it, "
                "then run this again"
            ]) from None
        except OSError as error:
            if error.errno not in _NO_LOCKING:
                raise
            log.warning("%s: not locked against a second process training it (%s: the file system cannot lock)",
                        run.path, os.strerror(error.errno))
            yield
            return
        yield
        # before closing: a forked child still alive (a DataLoader worker) shares the descriptor and the lock
        fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def lock_holder() -> dict[str, object]:
    """What the owner of a run records in its run.json, so that a refused second process can name it."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _recorded_holder(run: RunDir) -> str:
    try:
        status = run.status()
    except ValueError:  # a damaged run.json: the refusal stands without the holder's name
        return ""
    if "pid" not in status or "host" not in status:  # the holder has not written its run.json yet
        return ""
    return f" (process {status['pid']} on {status['host']}, by its run.json)"
