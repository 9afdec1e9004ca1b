"""Reading a study file: its size, its encoding, and YAML without the parts a study never needs.

A study file is a few hundred bytes of plain keys and values. Anchors and aliases (``&a``, ``*a``,
``<<: *a``) are what YAML bombs are made of, a repeated key silently drops a value (the last one
wins), and deep nesting overflows the composer's recursion: all three are refused while loading,
before any value is built. Everything else reads exactly as ``yaml.safe_load`` would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tempopt.errors import SpecError

MAX_BYTES = 1_000_000
"""The largest study file read (1 MB); a real one is a few hundred bytes."""

MAX_DEPTH = 64
"""The deepest nesting of mappings and lists; a study uses four levels."""


class _Refused(yaml.YAMLError):
    """Something a study file never needs; ``what`` and ``fix`` are the two halves of the sentence."""

    def __init__(self, what: str, mark: Any, fix: str) -> None:
        super().__init__(what)
        self.what, self.line, self.fix = what, mark.line + 1, fix


class StudyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors, aliases, repeated keys and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                "uses a YAML anchor or alias", event.start_mark, "write the values out, a study file needs none"
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(
                f"nests more than {MAX_DEPTH} levels deep",
                event.start_mark,
                "flatten it, a study file needs four levels",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in first_line
            except TypeError:  # an unhashable key: the base class says so
                continue
            if repeated:
                raise _Refused(
                    f"repeats key {key!r}",
                    key_node.start_mark,
                    f"keep one of them, the first is at line {first_line[key]}",
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def read_study_file(path: Path) -> Any:
    """The YAML data of a study file, read with :class:`StudyLoader`.

    Raises:
        SpecError: not a readable file, over :data:`MAX_BYTES`, not UTF-8, or not a plain YAML document.
    """
    text = _read_text(path)
    try:
        loader = StudyLoader(text)  # a yaml.SafeLoader: what yaml.safe_load uses, and stricter
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except _Refused as e:
        raise SpecError(f"{path} {e.what} (line {e.line}); {e.fix}.") from None
    except yaml.reader.ReaderError as e:  # e.character: a code point
        line = text.count("\n", 0, e.position) + 1
        raise SpecError(
            f"{path} holds the unprintable character U+{e.character:04X} on line {line}; delete it."
        ) from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or "invalid syntax"
        raise SpecError(f"{path} is not valid YAML{at} ({problem}); fix the syntax there.") from None


def _read_text(path: Path) -> str:
    """The file's text: its size checked before it is read, then decoded as UTF-8."""
    where = f"study file {str(path)!r}"
    if path.is_dir():
        raise SpecError(f"{where} is a directory; give the path of a .yaml study file.")
    if not path.exists():
        raise SpecError(f"{where} does not exist; give the path of a .yaml study file.")
    if not path.is_file():
        raise SpecError(f"{where} is not a regular file; give the path of a .yaml study file.")
    too_big = SpecError(f"{where} is over {MAX_BYTES:,} bytes; a study file is a few hundred, give the right one.")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise too_big
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # the file may have grown since
    except OSError as e:
        raise SpecError(f"{where} cannot be read ({e.strerror}); check its permissions.") from None
    if len(raw) > MAX_BYTES:
        raise too_big
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise SpecError(
            f"{where} is not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); save it as UTF-8."
        ) from None
