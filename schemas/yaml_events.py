"""Plain Python values from libyaml's event stream, refusing aliases: what ``yaml.safe_load``
returns, at a fraction of its cost.

Why: a province's registry (10 000 devices, 4 MB) took ~12 s of CPU to read with PyYAML's
pure-Python ``SafeLoader`` and still ~4 s with ``CSafeLoader``, whose C parser is fast (~0.3 s
for the events) but whose composer builds a node per scalar and calls the pure-Python resolver
and constructor on each (docs/perf.md, fifth slice). Here the C parser's events are folded
straight into dicts, lists and scalars: a plain scalar whose first character no implicit
resolver of ``yaml.SafeLoader`` knows is a ``str`` at once; the others go through the very same
resolver regular expressions and ``SafeConstructor`` functions, so values are those of
``safe_load`` (YAML 1.1: ``yes`` is True, ``0x1f`` 31, ``2024-01-01`` a date).

Aliases (``*name``) are refused with their line (``AliasRefused``) as they arrive, before
anything is expanded. What this fold does not build itself (a tagged collection such as
``!!set`` or ``!!omap``, a merge key ``<<``) raises ``NotFolded``: the caller then loads the
text with ``CSafeLoader`` after checking the events hold no alias. Parse errors are PyYAML's
own ``MarkedYAMLError`` (with the line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

_STR: Final = "tag:yaml.org,2002:str"
_MAP_TAGS: Final = frozenset({None, "!", "tag:yaml.org,2002:map"})
_SEQ_TAGS: Final = frozenset({None, "!", "tag:yaml.org,2002:seq"})
_IMPLICIT: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = Resolver.yaml_implicit_resolvers
_BUILT: Final = frozenset(
    tag for tag in SafeConstructor.yaml_constructors if tag is not None and "map" not in tag
) - {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs",
     "tag:yaml.org,2002:set"}  # fmt: skip
_CONSTRUCTOR: Final = SafeConstructor()


class AliasRefused(ValueError):
    """An alias (``*name``) at ``line`` (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__(f"alias at line {line}")
        self.line = line


class NotFolded(ValueError):
    """The document uses a YAML feature this fold leaves to PyYAML's constructor."""


def fold(text: str) -> Any:
    """The single document of ``text`` as ``yaml.safe_load`` builds it (None when empty).
    Raises ``AliasRefused``, ``NotFolded``, or ``yaml.YAMLError`` (parse errors, a second
    document, an unhashable key, a scalar tag no constructor knows)."""
    events: Iterator[Any] = yaml.parse(text, Loader=yaml.CSafeLoader)
    next(events)  # StreamStart
    start = next(events)
    if isinstance(start, yaml.StreamEndEvent):
        return None
    value = _value(next(events), events)
    next(events)  # DocumentEnd
    extra = next(events)
    if not isinstance(extra, yaml.StreamEndEvent):
        raise yaml.composer.ComposerError(
            "expected a single document in the stream", start.start_mark,
            "but found another document", extra.start_mark,
        )  # fmt: skip
    return value


def refuse_aliases(text: str) -> None:
    """Raise ``AliasRefused`` at the first alias of ``text`` (events only: no value built)."""
    events: Iterator[Any] = yaml.parse(text, Loader=yaml.CSafeLoader)
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            raise AliasRefused(_line(event))


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1


def _value(event: Any, events: Iterator[Any]) -> Any:
    kind = type(event)
    if kind is yaml.ScalarEvent:
        return _scalar(event)
    if kind is yaml.MappingStartEvent:
        if event.tag not in _MAP_TAGS:
            raise NotFolded(f"tagged mapping {event.tag}")
        mapping: dict[Any, Any] = {}
        for key_event in events:
            if type(key_event) is yaml.MappingEndEvent:
                return mapping
            key = _value(key_event, events)
            if isinstance(key, (dict, list)):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", event.start_mark,
                    "found unhashable key", key_event.start_mark,
                )  # fmt: skip
            mapping[key] = _value(next(events), events)
        raise NotFolded("unterminated mapping")  # the parser raises before this
    if kind is yaml.SequenceStartEvent:
        if event.tag not in _SEQ_TAGS:
            raise NotFolded(f"tagged sequence {event.tag}")
        sequence: list[Any] = []
        for item in events:
            if type(item) is yaml.SequenceEndEvent:
                return sequence
            sequence.append(_value(item, events))
        raise NotFolded("unterminated sequence")
    if kind is yaml.AliasEvent:
        raise AliasRefused(_line(event))
    raise NotFolded(f"unexpected {kind.__name__}")


def _scalar(event: Any) -> Any:
    value: str = event.value
    tag = event.tag
    if tag is None:
        if not event.implicit[0]:
            return value  # quoted or block scalars are strings (Resolver.resolve)
        for candidate, pattern in _IMPLICIT.get(value[:1], ()):
            if pattern.match(value):
                tag = candidate
                break
        else:
            return value
    elif tag in ("!", _STR):
        return value
    if tag not in _BUILT:
        if tag.startswith("tag:yaml.org,2002:"):
            raise NotFolded(f"scalar {tag}")  # merge, value, yaml
        raise yaml.constructor.ConstructorError(
            None, None, f"could not determine a constructor for the tag {tag!r}",
            event.start_mark,
        )  # fmt: skip
    node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    return SafeConstructor.yaml_constructors[tag](_CONSTRUCTOR, node)
