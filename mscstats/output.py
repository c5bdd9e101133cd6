"""Writing the outputs: one helper for every command (results.json, endpoints.csv,
the PDF, oc.json and synth's trial directory).

- ``check_output`` runs before the work: the parent directory must exist and be
  writable, so a read-only or missing directory stops the run in a second, not
  after minutes of analysis.
- A regular file (or a new one) is written to ``.NAME.mscstats-tmp-PID`` beside it
  and renamed over it: a reader never sees half a file. The file keeps the mode an
  existing output had (0600 stays 0600).
- A symlink to a regular file: the target is written that way and the link kept.
- A character device or a FIFO (/dev/null, /dev/stdout on a terminal or a pipe) is
  written through; nothing is ever renamed over anything but a regular file.
  Directories, block devices and sockets are refused (exit 2).
- ``-`` writes to standard output.
- A temporary file is removed on any error and on SIGTERM; one left by a process
  killed with SIGKILL is removed by the next run writing the same output (its
  name carries the dead process's id).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from .errors import MscstatsError

__all__ = ["OutputError", "OutputRefused", "Output", "check_output", "check_directory",
           "write_output", "write_files", "TMP_MARK"]

TMP_MARK = ".mscstats-tmp-"
STEM = 200      # characters of the output's name in its temporary's (names end at 255)


class OutputError(MscstatsError):
    """The output cannot be written (exit 1): says where and how to fix it."""


class OutputRefused(OutputError):
    """The output named is not something a command writes to (a usage error, exit 2)."""


@dataclass(frozen=True)
class Output:
    """Where a command writes: ``kind`` is "stdout", "through" (a character device
    or FIFO, opened and written) or "file" (a regular file, written atomically at
    ``path``, the symlink's target when -o names a symlink)."""
    name: str            # as the user wrote it, for messages
    kind: str
    path: Path | None


def _fail(name: str, problem: str, fix: str) -> OutputError:
    return OutputError(f"{name}: {problem} Fix: {fix}")


def _refuse(name: str, problem: str, fix: str) -> OutputRefused:
    return OutputRefused(f"{name}: {problem} Fix: {fix}")


def check_output(path: str | Path) -> Output:
    """Decide how to write ``path`` and check it can be written, before any work."""
    name = str(path)
    if name == "-":
        return Output(name, "stdout", None)
    path = Path(path)
    try:
        info = path.stat()                       # follows symlinks
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise _fail(name, f"cannot look at the output ({err.strerror}).",
                    "choose another -o/--output.") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        return _non_regular(name, path, info.st_mode)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    _check_parent(name, target)
    return Output(name, "file", target)


def _non_regular(name: str, path: Path, mode: int) -> Output:
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return Output(name, "through", path)
    what = ("a directory" if stat.S_ISDIR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise _refuse(name, f"is {what}; an output is written to a file, a FIFO, a character "
                  "device such as /dev/null, or standard output.",
                  "give a file name (e.g. results.json in that directory), or - for "
                  "standard output.")


def _temporary(path: Path) -> Path:
    """The temporary name of ``path``'s output: beside it, hidden, with our pid."""
    return path.parent / f".{path.name[:STEM]}{TMP_MARK}{os.getpid()}"


def _check_parent(name: str, target: Path) -> None:
    """The directory of ``target`` exists and a file can be made in it (tried with
    the temporary file's own name, so even a leftover probe is cleaned up later)."""
    parent = target.parent
    if not parent.is_dir():
        raise _refuse(name, f"the directory {parent} does not exist (mscstats does not create "
                      "it).", f"create it first (mkdir -p {parent}) or choose another "
                      "-o/--output.")
    remove_stale(parent, target.name)
    probe = _temporary(target)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as err:
        raise _fail(name, f"cannot write in {parent} ({err.strerror}).",
                    "choose a directory you can write to, or make this one writable.") from None


def check_directory(path: str | Path) -> Path:
    """synth's -o: a directory to write into (it may not exist yet; its parent must)."""
    name, path = str(path), Path(path)
    if path.exists() and not path.is_dir():
        raise _refuse(name, "exists and is not a directory.",
                      "give a directory for the trial's tables.")
    target = Path(os.path.realpath(path))
    _check_parent(name, target)
    return target


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def write_output(out: Output, data: bytes) -> None:
    """Write the bytes where ``out`` says; OutputError (exit 1) when it fails."""
    with _reported(out.name):
        if out.kind == "stdout":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        elif out.kind == "through":
            _write_through(out.path, data)
        else:
            _write_file(out.path, data)


@contextmanager
def _reported(name: str) -> Iterator[None]:
    """An OSError while writing (a full disk, a read-only file system, a failed
    rename) becomes an OutputError naming the output and the fix."""
    try:
        yield
    except OSError as err:
        raise _fail(name, f"could not be written ({err.strerror or err}); nothing was "
                    "left half-written.", _fix_for(err)) from None


def _fix_for(err: OSError) -> str:
    import errno
    return {errno.ENOSPC: "free disk space, or write to another file system.",
            errno.EDQUOT: "free space within your disk quota, or write elsewhere.",
            errno.EROFS: "the file system is read-only; write to another directory.",
            errno.EACCES: "choose a file and directory you can write to.",
            errno.EPERM: "choose a file and directory you can write to.",
            errno.EPIPE: "the program reading the output closed it early; let it read "
                         "everything, or write to a file."}.get(
        err.errno, "check the file system and write to another -o/--output.")


def _write_through(path: Path, data: bytes) -> None:
    # O_WRONLY without O_CREAT or O_TRUNC: a device or FIFO is written, never replaced
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_file(path: Path, data: bytes) -> None:
    remove_stale(path.parent, path.name)
    tmp = _temporary(path)
    with _removed_on_term(tmp):
        _write_new(tmp, data, _mode_for(path))
        os.replace(tmp, path)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """An existing output's mode; a new one gets what open() would give it."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return _default_mode()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def _removed_on_term(tmp: Path) -> Iterator[None]:
    """Remove ``tmp`` on any error, on Ctrl-C and on SIGTERM (which then ends the
    process with 128 + 15, as the default action would)."""
    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if main else None
    try:
        yield
    except BaseException:
        _remove(tmp)
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def remove_stale(directory: Path, name: str) -> list[Path]:
    """Temporary files (or directories) of ``name`` left by mscstats processes that no
    longer run (killed with SIGKILL, a power cut): removed. Returns them."""
    pattern = re.compile(re.escape(f".{name[:STEM]}{TMP_MARK}") + r"(\d+)$")
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        found = pattern.match(entry.name)
        if found and not _alive(int(found.group(1))):
            _remove(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False          # our own leftover from an earlier attempt in this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_files(directory: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write several files into ``directory`` so that a failure leaves none of them
    half-written: all are written into ``.DIR.mscstats-tmp-PID`` beside it first;
    a new directory is then renamed into place, an existing one gets each file
    renamed into it (other files in it are kept)."""
    named = Path(directory)
    directory = Path(os.path.realpath(named))
    stage = _temporary(directory)
    with _reported(str(named)):
        remove_stale(directory.parent, directory.name)
        with _removed_on_term(stage):
            stage.mkdir()
            for filename, data in files.items():
                _write_new(stage / filename, data, _default_mode())
            if directory.is_dir():
                for filename in files:
                    target = directory / filename
                    if target.exists():
                        os.chmod(stage / filename, _mode_for(target))
                    os.replace(stage / filename, target)
                stage.rmdir()
            else:
                os.replace(stage, directory)
    return [named / filename for filename in files]
