"""``python -m jeex``: the same as the ``jeex`` console script."""

from jeex.cli import app

app()
