"""Publishing a finished directory as ``base_dir/<version>`` so that no reader sees half of it.

A SavedModel is written to a temporary directory ``base_dir/.tmp-export-<host>-<pid>-<rand>``
and then published under ``base_dir/<version>``. Readers (kerasgan's server and its
version poller, TF Serving's file-system source) list the numeric children of ``base_dir``
and load them; they must never find a version directory that is missing its variables.
Guarantees, for a kill (``SIGKILL``) at any instant:

- **New version**: the temporary directory is renamed into place, one atomic
  ``rename``; before it the version does not exist, after it the version is complete.
- **Overwrite**: on Linux the temporary directory and the old version are swapped with
  one ``renameat2(RENAME_EXCHANGE)``: at every instant ``base_dir/<version>`` is either
  the complete old or the complete new SavedModel; the old one is then deleted. Where
  the exchange is not available (another OS or file system) the old version is renamed
  aside to ``.old-export-<version>-...`` first, then the new one in, then the old one is
  deleted; a kill between the two renames leaves the old version aside, and the next
  publication into ``base_dir`` (or :func:`recover`) renames it back.
- **Next free version** (``version=None``): the number is chosen and the directory
  renamed in while holding an exclusive ``flock`` on ``base_dir/.export.lock``, so two
  concurrent exports get two different versions. The kernel releases the lock when its
  holder dies: a killed export never blocks the next one.
- Leftovers of killed exports (``.tmp-export-*`` whose process is gone, ``.old-export-*``)
  are cleaned by the next publication.

Published directories are ``0755`` and files ``0644`` (``tempfile.mkdtemp`` creates
``0700``, unreadable to a TF Serving process running as another user), and their
contents are fsynced before the rename, so the version is also complete after a power loss.

Example:
    >>> import os, tempfile
    >>> base = tempfile.mkdtemp()
    >>> def write(path):
    ...     with open(os.path.join(path, "saved_model.pb"), "w") as f:
    ...         _ = f.write("x")
    >>> publish(write, base)            # the next free version
    '...1'
    >>> publish(write, base, version=1)  # overwrite, atomically
    '...1'
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import socket
import tempfile
import time

__all__ = ["claim_lock", "publish", "recover"]

TMP_PREFIX = ".tmp-export-"
OLD_PREFIX = ".old-export-"
LOCK_NAME = ".export.lock"
# A leftover from another host (a shared file system) is removed only when this old.
_FOREIGN_STALE_SECONDS = 24 * 3600

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _after(step):
    """Test seam: called after each step of a publication (fault-injection tests patch it)."""


def _tag():
    host = socket.gethostname().replace("-", "_") or "host"
    return f"{host}-{os.getpid()}-"


def _owner_alive(name, prefix):
    """Whether the process that created leftover ``name`` may still be running."""
    parts = name[len(prefix) :].split("-")
    if len(parts) < 3:
        return False
    host, pid = parts[-3], parts[-2]
    if host != (socket.gethostname().replace("-", "_") or "host"):
        return None  # unknown: another machine's process
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True  # running (this process included: its own publication in progress)


def _exchange(a, b):
    """Atomically swaps two directory entries (Linux ``renameat2``). False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), a)


def _fsync_dir(path):
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _finish_tree(root):
    """chmod 0755/0644 and fsync every file and directory under ``root``."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            os.chmod(path, 0o644)
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(dirpath)


@contextlib.contextmanager
def claim_lock(base_dir):
    """Holds an exclusive lock on ``base_dir`` (``flock`` of ``base_dir/.export.lock``).

    Released when the block ends or the process dies. On systems without
    ``fcntl`` the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(os.path.join(base_dir, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def recover(base_dir):
    """Cleans leftovers of killed publications in ``base_dir`` (call it holding the lock).

    An ``.old-export-<v>-...`` directory whose version ``<v>`` is missing is renamed
    back (a kill between the two renames of the fallback overwrite); other
    ``.old-export-*`` and the ``.tmp-export-*`` of dead processes are deleted.

    Returns:
        The list of entries removed or restored.
    """
    done = []
    if not os.path.isdir(base_dir):
        return done
    now = time.time()
    for name in sorted(os.listdir(base_dir)):
        path = os.path.join(base_dir, name)
        for prefix in (TMP_PREFIX, OLD_PREFIX):
            if not name.startswith(prefix):
                continue
            alive = _owner_alive(name, prefix)
            if alive is None:
                with contextlib.suppress(OSError):
                    alive = now - os.path.getmtime(path) < _FOREIGN_STALE_SECONDS
            if alive:
                continue
            if prefix == OLD_PREFIX:
                version = name[len(prefix) :].split("-")[0]
                target = os.path.join(base_dir, version)
                if version.isdigit() and not os.path.exists(target):
                    os.rename(path, target)
                    done.append(name)
                    continue
            shutil.rmtree(path, ignore_errors=True)
            done.append(name)
    return done


def _existing_versions(base_dir):
    return [int(p) for p in os.listdir(base_dir) if p.isdigit()]


def publish(write, base_dir, version=None, overwrite=True):
    """Writes a directory with ``write(tmp_path)`` and publishes it as ``base_dir/<version>``.

    Args:
        write: callable filling the (empty, existing) directory it is given.
        base_dir: the model's directory (created if missing).
        version: positive int, or None for one more than the largest version present
            (chosen under the lock, so concurrent publications get different numbers).
        overwrite: whether an existing ``base_dir/<version>`` may be replaced
            (atomically); if False it raises ``FileExistsError``.

    Returns:
        The published version directory.

    Raises:
        ValueError: ``version`` is not a positive int, or ``base_dir`` is a file.
        FileExistsError: the version exists and ``overwrite`` is False.
    """
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"version must be a positive int. Received: version={version!r}")
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise ValueError(
            f"The export directory exists and is not a directory. Received: base_dir={base_dir!r}"
        )
    os.makedirs(base_dir, exist_ok=True)
    if (
        version is not None
        and not overwrite
        and os.path.exists(os.path.join(base_dir, str(version)))
    ):
        raise FileExistsError(
            f"Version {version} already exists in {base_dir}; pass overwrite=True (CLI: --force) "
            f"to replace it. Received: version={version}"
        )
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX + _tag(), dir=base_dir)
    try:
        write(tmp)
        _finish_tree(tmp)
        _after("written")
        with claim_lock(base_dir):
            recover(base_dir)
            if version is None:
                number = max(_existing_versions(base_dir), default=0) + 1
            else:
                number = version
            target = os.path.join(base_dir, str(number))
            if os.path.lexists(target):
                if not overwrite:
                    raise FileExistsError(
                        f"Version {number} already exists in {base_dir}; pass overwrite=True "
                        f"(CLI: --force) to replace it. Received: version={number}"
                    )
                _replace(tmp, target, base_dir, number)
            else:
                os.rename(tmp, target)
                _after("renamed")
            _fsync_dir(base_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _replace(tmp, target, base_dir, number):
    """Replaces the existing ``target`` by ``tmp``; ``target`` is complete at every instant
    (exchange) or missing for the span of one rename (fallback, recovered later)."""
    if os.path.isdir(target) and not os.path.islink(target) and _exchange(tmp, target):
        _after("exchanged")
        shutil.rmtree(tmp, ignore_errors=True)  # now holds the old version
        _after("old-deleted")
        return
    aside = os.path.join(base_dir, f"{OLD_PREFIX}{number}-{_tag()}{os.urandom(4).hex()}")
    os.rename(target, aside)
    _after("aside")
    os.rename(tmp, target)
    _after("renamed")
    if os.path.isdir(aside) and not os.path.islink(aside):
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.remove(aside)
    _after("old-deleted")


def is_leftover(name):
    """Whether a directory entry of a model base path is publication bookkeeping."""
    return name.startswith((TMP_PREFIX, OLD_PREFIX)) or name == LOCK_NAME
