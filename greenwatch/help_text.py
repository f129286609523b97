"""``--help`` for the terminal a user has: the commands' docstrings are wrapped at 100
columns for the source, not for the reader, so each paragraph is joined into one line here and
the terminal wraps it at its own width (``reflow_help``)."""

from __future__ import annotations

import inspect
import re

import typer

_KEEP_LINE = re.compile(r"^\s*(?:[-*•]\s|\d+\.\s|\s)")
"""A line that starts a list item or is indented: kept on its own line."""


def reflow(text: str) -> str:
    """``text`` with the single line breaks inside each paragraph replaced by spaces; blank
    lines, list items and indented lines are kept. Pure."""
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.splitlines():
            if lines and not _KEEP_LINE.match(line):
                lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def reflow_help(app: typer.Typer) -> None:
    """Reflow the help of every command and group registered on ``app``, recursively (before
    typer builds the click commands, i.e. before the app is first called)."""
    for command in app.registered_commands:
        text = command.help or inspect.getdoc(command.callback)
        if text:
            command.help = reflow(text)
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        if isinstance(sub.info.help, str):
            sub.info.help = reflow(sub.info.help)
        reflow_help(sub)
