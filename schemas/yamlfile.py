"""Reading a YAML file a person wrote, safely: bounded size, no aliases, UTF-8 only.

``yaml.safe_load`` builds no objects but expands aliases, so a few hundred bytes of nested
anchors and aliases (a "billion laughs" document) expand to gigabytes. Registries have no use
for anchors, so the loader refuses any alias outright, and refuses files larger than
``MAX_YAML_BYTES`` before parsing them.

With libyaml (``yaml.__with_libyaml__``, PyYAML's wheels have it) the document is folded from
the C parser's events (``schemas.yaml_events``: the values ``safe_load`` builds, ~10× faster
than the pure-Python loader on a province's registry); without it, or for the few features
the fold leaves to PyYAML (tagged collections, merge keys), PyYAML's loader reads it, aliases
refused the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

from schemas import yaml_events

LIBYAML: Final = bool(getattr(yaml, "__with_libyaml__", False))
"""Whether the C parser is there (else the pure-Python loader reads every file)."""

MAX_YAML_BYTES: Final = 16 * 1024 * 1024
"""Largest YAML file read (16 MiB; the demo registry is 20 kB, a province's a few MB)."""


class YamlFileError(ValueError):
    """The file cannot be read as a YAML document; ``line`` is 1-based when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{reason}")
        self.reason = reason
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (``*name``) instead of expanding them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise YamlFileError(_ALIASES, event.start_mark.line + 1)
        return super().compose_node(parent, index)


_ALIASES: Final = "YAML aliases (*name) are not accepted in this file"


def _load(text: str) -> Any:
    """The document: folded from libyaml's events, else PyYAML's (alias-refusing) loaders."""
    if not LIBYAML:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass
    try:
        return yaml_events.fold(text)
    except yaml_events.NotFolded:
        yaml_events.refuse_aliases(text)
        return yaml.load(text, Loader=yaml.CSafeLoader)


def parse_yaml(text: str) -> Any:
    """Parse one YAML document without aliases; raises YamlFileError with the line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlFileError(f"larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB")
    try:
        return _load(text)
    except yaml_events.AliasRefused as exc:
        raise YamlFileError(_ALIASES, exc.line) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlFileError(str(exc.problem or exc), line) from exc
    except yaml.YAMLError as exc:
        raise YamlFileError(str(exc)) from exc


def read_yaml_file(path: Path) -> Any:
    """Read and parse a UTF-8 YAML file (size checked before reading); raises YamlFileError
    for a missing, unreadable, oversized, non-UTF-8 or malformed file."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise YamlFileError(f"{size} bytes, larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlFileError(exc.strerror or str(exc)) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlFileError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line) from exc
    return parse_yaml(text)
