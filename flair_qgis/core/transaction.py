"""One run per output at a time, the switch from a map's previous set of files to the new one in one
step that a failure undoes, and the recovery of what a killed run left (see docs/plugin.md, "Outputs").

A run holds an advisory lock, `.map.tif.lock` beside its output, that records its pid, host and random
token. Its partial files are named `.<name>.partial-<token>...` and the files it moves aside while
switching `.<name>.backup-<token>`: a later run that takes over a lock of a dead run (the kernel drops the
lock of a dead process) removes exactly the files named with that run's token, and restores the backups of
a switch it interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import OutputError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_WINDOWS_LOCK_OFFSET = 2**30  # the byte locked on Windows, far from the record


def lock_path(target: Path) -> Path:
    """The lock file of an output path: `.map.tif.lock` beside `map.tif`."""
    return target.with_name(f".{target.name}.lock")


def partial_path(final: Path, token: str) -> Path:
    """Where a run writes `final` before the switch."""
    return final.with_name(f".{final.name}.partial-{token}")


def backup_path(final: Path, token: str) -> Path:
    """Where the switch moves the previous `final` aside."""
    return final.with_name(f".{final.name}.backup-{token}")


class OutputLock:
    """An advisory lock on one output path, held from `acquire()` to `release()` (flock on POSIX, a
    byte-range lock on Windows; either is dropped by the system when the process dies)."""

    def __init__(self, target: Path, token: str) -> None:
        self.target = target
        self.path = lock_path(target)
        self.token = token
        #: The record left by a dead run that held this lock before (None when the lock was free).
        self.previous: dict[str, Any] | None = None
        self._fd: int | None = None
        self._record: dict[str, Any] = {}

    def acquire(self) -> None:
        """Take the lock or raise OutputError naming the run that holds it."""
        for _ in range(10):
            fd = self._open()
            locked = _try_lock(fd)
            if locked is False:
                os.close(fd)
                raise _held_error(self.target, self.path, read_record(self.path))
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and removed by its owner meanwhile: take the new file
                os.close(fd)
                continue
            self._fd = fd
            record = _read_fd(fd)
            dead = locked and record.get("token") not in (None, self.token)
            self.previous = record if dead else None  # unlocked file systems prove no death
            try:
                self.update(state="writing")
            except OSError as exc:
                self.release()
                raise OutputError(
                    f"The lock file {self.path} cannot be written: {exc.strerror or exc}.",
                    "Free some space in that folder, or choose another folder.",
                ) from exc
            return
        raise OutputError(f"The lock {self.path} keeps changing.", "Another program is using it; retry.")

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(
                f"The lock file {self.path} cannot be used: {exc.strerror or exc}.",
                f"Remove {self.path} (a folder or a link there is not this program's) or choose "
                "another output name.",
            ) from exc

    def update(self, **fields: Any) -> None:
        """Rewrite the owner record (pid, host, token, state...) with `fields`."""
        assert self._fd is not None
        self._record.update(
            program="flair_qgis",
            pid=os.getpid(),
            host=socket.gethostname(),
            token=self.token,
            started=self._record.get("started") or time.strftime("%Y-%m-%d %H:%M:%S"),
            **fields,
        )
        data = json.dumps(self._record).encode("utf-8")
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, data)

    def release(self) -> None:
        """Remove the lock file and drop the lock (safe to call twice)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fcntl is not None:  # removed while held, so no other run takes a lock on a removed file
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(fd)
        else:  # pragma: no cover - Windows cannot remove an open file
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _try_lock(fd: int) -> bool | None:
    """True when the lock is taken, False when another process holds it, None where the file system
    has no locks (some network shares): then the run goes on unlocked and no run is taken for dead."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return None
        return True
    os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)  # pragma: no cover
    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def _read_fd(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        if sum(map(len, chunks)) > 1 << 20:
            break
    return _parse_record(b"".join(chunks))


def read_record(path: Path) -> dict[str, Any]:
    """The owner record of a lock file ({} when absent or unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return {}
    try:
        return _read_fd(fd)
    except OSError:
        return {}
    finally:
        os.close(fd)


def _parse_record(data: bytes) -> dict[str, Any]:
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(record, dict) or record.get("program") != "flair_qgis":
        return {}
    token = record.get("token")
    if not isinstance(token, str) or not token.isalnum() or len(token) < 16:
        return {}
    return record


def _held_error(target: Path, path: Path, record: dict[str, Any]) -> OutputError:
    owner = ""
    if record:
        owner = f" (process {record.get('pid')} on {record.get('host')}, started {record.get('started')})"
    return OutputError(
        f"Another run is writing {target}{owner}.",
        "Wait for it to finish, or choose another output name.",
    )


# --- recovery of dead runs -------------------------------------------------------------------------


def recover(record: dict[str, Any], folders: set[Path]) -> list[str]:
    """Undo what the dead run of `record` left in `folders` (and the folders its record names): an
    interrupted switch is rolled back (its backups restored), its partial files and backups removed.
    Only files named with that run's token are touched. Returns notes for the user."""
    token = record["token"]
    placements = {Path(f): Path(t) for f, t in (record.get("placements") or {}).items()}
    folders = folders | {p.parent for p in placements} | {p.parent for p in placements.values()}
    notes: list[str] = []
    pid = record.get("pid")
    switched = record.get("state") == "switched"
    if not switched:  # backups are only ever put back, unless the switch was complete
        had_backups = any(any(_glob(folder, f".*.backup-{token}")) for folder in folders)
        notes += _roll_back(placements, folders, token, placed=[])
        if had_backups:
            notes.append(f"An interrupted replacement of the outputs (process {pid}) was undone.")
    removed = 0
    for folder in folders:
        for pattern in [f".*.partial-{token}*"] + ([f".*.backup-{token}"] if switched else []):
            for path in _glob(folder, pattern):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    if removed:
        notes.append(f"{removed} partial file(s) left by an interrupted run (process {pid}) were removed.")
    return notes


def clean_dead_runs(folders: set[Path], own: set[Path]) -> list[str]:
    """Recover every run in `folders` whose lock is not held any more (its process died), and remove its
    lock file. Locks in `own` (this run's) are skipped."""
    notes: list[str] = []
    for folder in folders:
        for path in _glob(folder, ".*.lock"):
            if path in own or path.is_symlink() or not path.is_file():
                continue
            try:
                fd = os.open(path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
            except OSError:
                continue
            try:
                if not _try_lock(fd):
                    continue  # a live run, or no locks on this file system: nothing is provably dead
                try:
                    same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                record = _read_fd(fd) if same else {}
                if record:
                    notes += recover(record, {folder})
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            finally:
                os.close(fd)
    return notes


def _glob(folder: Path, pattern: str) -> Iterator[Path]:
    try:
        yield from folder.glob(pattern)
    except OSError:
        return


def _original_of(backup: Path, token: str) -> Path:
    return backup.with_name(backup.name[1 : -len(f".backup-{token}")])


def _roll_back(placements: dict[Path, Path], folders: set[Path], token: str, placed: list[Path]) -> list[str]:
    """Remove the new files put in place (those in `placed`, or linked to their partial file) and move
    every backup of `token` back to its name."""
    notes = []
    for final in placed:
        with contextlib.suppress(OSError):
            os.unlink(final)
    for final, temp in placements.items():
        with contextlib.suppress(OSError):
            if os.path.lexists(temp) and os.path.lexists(final) and os.path.samefile(temp, final):
                os.unlink(final)
    for folder in folders:
        for backup in _glob(folder, f".*.backup-{token}"):
            original = _original_of(backup, token)
            if os.path.lexists(original):
                notes.append(f"{original} was written meanwhile; the previous file is kept as {backup}.")
                continue
            try:
                os.rename(backup, original)
            except OSError as exc:
                notes.append(f"The previous {original.name} could not be restored ({exc}); it is {backup}.")
    return notes


# --- the switch ------------------------------------------------------------------------------------


def switch(
    placements: dict[Path, Path],
    members: list[Path],
    replaceable: Callable[[Path], bool],
    token: str,
    lock: OutputLock | None = None,
) -> None:
    """Replace the previous set by the new one: every existing path of `members` (the new files' paths
    and the previous set's files this run does not write) is moved aside, then every partial file of
    `placements` (final -> partial) is put at its final path without replacing anything, then the
    previous files are removed. A failure at any point puts the previous set back as it was and raises
    OutputError. `replaceable(path)` says whether an existing file may be replaced (checked here, at the
    switch, so that a file written meanwhile is never replaced unasked). Signals wait until it is done."""
    everything = list(dict.fromkeys([*placements, *members]))
    for path in everything:
        check_replaceable(path, replaceable)
    folders = {p.parent for p in everything}
    if lock is not None:
        try:
            lock.update(state="switching", placements={str(f): str(t) for f, t in placements.items()})
        except OSError as exc:
            raise OutputError(
                f"The lock file {lock.path} cannot be written: {exc.strerror or exc}. Nothing was replaced.",
                "Free some space in that folder, or choose another folder.",
            ) from exc
    placed: list[Path] = []
    with _signals_deferred():
        try:
            for path in everything:
                if os.path.lexists(path):
                    os.rename(path, backup_path(path, token))
            for final, temp in placements.items():
                _place(temp, final)
                placed.append(final)
        except BaseException as exc:
            notes = _roll_back(placements, folders, token, placed)
            if lock is not None:
                with contextlib.suppress(OSError):
                    lock.update(state="writing")
            if isinstance(exc, OSError):
                where = Path(exc.filename) if exc.filename else next(iter(everything))
                name = where.name
                if name.startswith(".") and f".backup-{token}" in name:
                    name = _original_of(where, token).name
                elif name.startswith(".") and f".partial-{token}" in name:
                    name = name[1 : name.index(f".partial-{token}")]
                raise OutputError(
                    f"The outputs could not be replaced: {name} in {where.parent}: "
                    f"{exc.strerror or exc}. The previous files are as they were."
                    + ("" if not notes else " " + " ".join(notes)),
                    "Close the program that holds the file (or make it writable) and run again.",
                ) from exc
            raise
        if lock is not None:
            with contextlib.suppress(OSError):  # then a recovery keeps the backups: nothing is lost
                lock.update(state="switched")
        for temp in placements.values():
            with contextlib.suppress(OSError):
                os.unlink(temp)
        for path in everything:
            with contextlib.suppress(OSError):
                os.unlink(backup_path(path, token))


def check_replaceable(path: Path, replaceable: Callable[[Path], bool]) -> None:
    """OutputError when an existing `path` is a folder, a link, or may not be replaced."""
    if not os.path.lexists(path):
        return
    if path.is_symlink():
        raise OutputError(
            f"The output {path} is a symbolic link.",
            "Choose the path of a real file (links are not followed, nor replaced).",
        )
    if path.is_dir():
        raise OutputError(f"The output {path} is a folder.", "Choose a file name for the outputs.")
    if not replaceable(path):
        raise OutputError(
            f"The output {path} already exists.",
            getattr(replaceable, "hint", None)
            or "Pass overwrite (--overwrite) to replace it, or choose another name.",
        )


def _place(temp: Path, final: Path) -> None:
    """Give `temp` the name `final`, failing if `final` exists (a hard link, then the partial name
    removed; a rename after a check where the file system has no hard links)."""
    try:
        os.link(temp, final)  # `temp` is this run's own regular file
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(final):
            raise FileExistsError(17, "File exists", str(final)) from exc
        os.rename(temp, final)


#: errno of file systems without hard links (FAT, some network shares).
_NO_LINKS = {getattr(__import__("errno"), name, -1) for name in ("EPERM", "ENOTSUP", "EOPNOTSUPP", "EXDEV")}


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (main thread, POSIX) until the block is done."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
