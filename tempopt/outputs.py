"""Where a command may write its output, and writing it so that nothing is half-written.

``export``, ``report`` and ``train`` write only to a path that does not exist yet, to a previous
output of the same command (recognised by its own marker), or anywhere with ``--force``; never
over a SQLite database (the study's own or any other), with or without ``--force``. Every file
is written to a temporary file beside it and renamed over the old one: an interrupted write
leaves the previous file whole.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tempopt.errors import HostError, SpecError

SQLITE_HEADER = b"SQLite format 3\x00"
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")


def is_database(path: Path) -> bool:
    """True if ``path`` is a SQLite database file (by its header), or the journal of one beside it."""
    for suffix in JOURNAL_SUFFIXES:
        if path.name.endswith(suffix):
            return _has_sqlite_header(path.with_name(path.name[: -len(suffix)]))
    return _has_sqlite_header(path)


def _has_sqlite_header(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def check_output_file(path: Path, is_previous: Callable[[Path], bool], command: str, force: bool) -> None:
    """Refuse ``path`` as ``command``'s output unless it is new, a previous output, or ``force``d.

    Raises:
        SpecError: ``path`` is a database, a folder, or a file ``command`` did not write.
    """
    if is_database(path):
        raise SpecError(
            f"--out {str(path)!r} is a SQLite database file, which {command} never overwrites (not even with "
            "--force); give a new file name, e.g. 'best.yaml'."
        )
    if path.is_dir():
        raise SpecError(f"--out {str(path)!r} is a folder; give a file name, e.g. {str(path / 'best.yaml')!r}.")
    if path.exists() and not force and not is_previous(path):
        raise SpecError(
            f"--out {str(path)!r} exists and was not written by tempopt {command}; give a new path, "
            "or add --force to overwrite it."
        )


def check_output_folder(
    folder: Path, names: tuple[str, ...], is_previous: Callable[[Path], bool], command: str, force: bool
) -> None:
    """Refuse ``folder`` as ``command``'s output folder (of files ``names``) unless it is new or
    empty, a previous output, or ``force``d; never when one of its files would replace a database.

    Raises:
        SpecError: ``folder`` is a file, a database would be replaced, or the folder holds files
            ``command`` did not write.
    """
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"--out {str(folder)!r} is a file; give a folder for {command}'s files.")
    for name in names:
        if is_database(folder / name):
            raise SpecError(
                f"--out {str(folder)!r} holds a SQLite database {name!r}, which {command} never overwrites "
                "(not even with --force); give another folder."
            )
    if folder.is_dir() and any(folder.iterdir()) and not force and not is_previous(folder):
        raise SpecError(
            f"--out {str(folder)!r} holds files that tempopt {command} did not write; give a new or empty "
            "folder, or add --force to write into it."
        )


def check_folder(folder: Path, option: str) -> Path:
    """Check, creating nothing, that the folder an option names could be made and written (a
    command's logs): before the pre-flight, which must leave nothing behind when it refuses.

    Raises:
        SpecError: ``folder``, or a folder above it, is a file.
        HostError: the nearest existing folder above it cannot be written.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        raise SpecError(f"{option} {str(folder)!r} is a file; give a folder.")
    if not existing.is_dir():
        raise SpecError(f"{option} {str(folder)!r} lies under the file {str(existing)!r}; give a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise HostError(
            f"cannot write into {option} {str(folder)!r} ({str(existing)!r} is read-only); give a writable folder."
        )
    return folder


def ensure_folder(folder: Path, option: str) -> Path:
    """Create the folder an option names (a command's logs), before anything else is done.

    Raises:
        SpecError: ``folder`` is a file.
        HostError: it cannot be created or written.
    """
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{option} {str(folder)!r} is a file; give a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise HostError(
            f"cannot write into {option} {str(folder)!r} ({e.strerror or e}); give a writable folder."
        ) from e
    return folder


def ensure_file(path: Path, option: str) -> Path:
    """Touch the file an option names (a liveness probe's), before anything else is done.

    Raises:
        SpecError: ``path`` is a folder.
        HostError: it cannot be created or written.
    """
    if path.is_dir():
        raise SpecError(f"{option} {str(path)!r} is a folder; give a file name.")
    try:
        path.touch()
    except OSError as e:
        raise HostError(f"cannot write {option} {str(path)!r} ({e.strerror or e}); give a writable path.") from e
    return path


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary)`` on a new file beside ``path``, then rename it to ``path``.

    Raises:
        HostError: the folder cannot be created or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _temporary_beside(path) as tmp:
            write(tmp)
            os.replace(tmp, path)
    except OSError as e:
        raise HostError(f"cannot write {str(path)!r} ({e.strerror or e}); pass --out with a writable path.") from e


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename.

    Raises:
        HostError: the folder cannot be created or written.
    """
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _mode_of(path: Path) -> int:
    """The permissions of the file ``path`` replaces, or those of a new file (the umask's)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A new empty file in ``path``'s folder, removed unless renamed by then."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, _mode_of(path))
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
