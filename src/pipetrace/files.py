"""Writing files safely: one way to write, one way to claim a run folder.

Every file pipetrace writes goes to a temporary name created exclusively in the target's
folder (``O_CREAT | O_EXCL | O_NOFOLLOW``: a name planted there, a symlink included, is never
opened, let alone written through) and is then renamed over the target with ``os.replace``,
which replaces a symlink itself rather than what it points to. A reader therefore sees the old
file or the new one, never half of one.

A run folder is claimed with an exclusive lock on ``.pipetrace.lock`` held for the whole run,
so two runs started at once into one ``--out`` cannot interleave their files: the second is
told so, before it trains.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomic(folder / "hello.txt", b"hi")
>>> (folder / "hello.txt").read_bytes()
b'hi'
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from pipetrace.errors import PipetraceError

LOCK_NAME = ".pipetrace.lock"
TEMP_PREFIX = ".pipetrace-tmp-"  # every temporary file or folder pipetrace makes in a run folder


def write_atomic(path: str | Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path`: a new exclusive temporary file beside it, then a rename over it.

    `mode` defaults to what a new file gets under the umask (0644 usually), since a saved run or
    report is meant to be read like any other file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.")  # O_EXCL, 0600, no link followed
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), default_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def default_mode() -> int:
    """The permissions a new file gets: 0666 less the umask.

    The umask is read from /proc where there is one: setting it to read it (the only portable
    way) would, for a moment, give files other threads create meanwhile no mask at all.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # the strictest mask for the moment it is set
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def private_folder(parent: Path):
    """A fresh folder only this process made (mkdtemp: exclusive, 0700) inside `parent`, removed afterwards.

    For files a library insists on naming itself (Keras' ``model.save`` wants a path ending in
    ``.keras``): write them here, then `os.replace` them to their place.
    """
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=TEMP_PREFIX))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_writable(folder: Path) -> None:
    """Raise OSError if no new file can be made in `folder` (an exclusive temporary file, removed at once)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}write-test.")
    os.close(fd)
    os.unlink(name)


class FolderBusy(PipetraceError):
    """Another run holds the folder's lock."""


@contextlib.contextmanager
def claimed_folder(folder: Path, what: str):
    """Hold an exclusive lock on `folder`/.pipetrace.lock while the block runs; FolderBusy if another process has it.

    The lock file is opened with O_NOFOLLOW (a symlink planted with its name is refused, never
    followed) and locked with flock, which the kernel releases when the process ends, however it
    ends: a run killed outright never leaves a folder locked. The file is removed at the end while
    still locked; a run that opened it just before finds, once it gets the lock, that the name no
    longer leads to its file, and is told the folder is busy. `what` names the folder in messages
    ("--out runs/x").
    """
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise PipetraceError(f"{what}: {LOCK_NAME} there is a symbolic link; remove it (pipetrace never follows it)") from error
        raise PipetraceError(f"{what}: cannot write there ({error.strerror or error})") from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise FolderBusy(_busy(what)) from error
        if not _same_file(fd, path):  # the run before this one removed its lock (and folder) meanwhile
            raise FolderBusy(_busy(what))
        try:
            yield
        finally:
            os.unlink(path)  # still locked: a run that opened this file meanwhile sees it gone (_same_file)
    finally:
        os.close(fd)  # closing releases the lock


def _busy(what: str) -> str:
    return (f"{what}: another pipetrace run is writing to this folder right now; "
            f"wait for it to finish or choose another folder")


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def remove_leftovers(folder: Path) -> None:
    """Temporary files and folders of an earlier run there that was killed outright (only our own names)."""
    for entry in folder.iterdir():
        if entry.name.startswith(TEMP_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def clear_stale_claim(folder: Path) -> bool | None:
    """Remove the lock file (and our temporary files) a run killed outright left in `folder`; whether it was stale.

    True: it was stale and is removed; False: a live process holds it (the run goes on); None: no lock
    file there, or this system cannot tell without taking the lock (no /proc/locks), which could
    make a run starting at that moment find its folder busy: left as it is.
    """
    path = folder / LOCK_NAME
    try:
        info = os.lstat(path)
    except OSError:
        return None
    held = _flock_inodes()
    if held is None:
        return None
    if (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino) in held:
        return False
    with contextlib.suppress(OSError):
        remove_leftovers(folder)
        os.unlink(path)
    return True


def _flock_inodes() -> set[tuple[int, int, int]] | None:
    """(major, minor, inode) of every file a process holds a flock on, read from /proc/locks (Linux); None elsewhere."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    held = set()
    for line in lines:
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK":
            device = parts[5].split(":")  # MAJOR:MINOR:INODE, the first two in hex
            if len(device) == 3:
                with contextlib.suppress(ValueError):
                    held.add((int(device[0], 16), int(device[1], 16), int(device[2])))
    return held
