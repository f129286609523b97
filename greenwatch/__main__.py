"""``python -m greenwatch``: the same as the ``greenwatch`` console script."""

from greenwatch.cli import app

app()
