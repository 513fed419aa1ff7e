"""The inbox's pages."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from inbox import blueprint
from inbox.auth import signed_in


@blueprint.get("/")
@signed_in
def index() -> ResponseReturnValue:
    """Show the conversations (for now, the page that holds their place)."""
    return render_template("inbox/index.html")
