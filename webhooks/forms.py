"""Form bodies as Twilio posts them: many short plain fields, parsed without per-field decoding."""

from __future__ import annotations

from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.formparser import FormDataParser


def parse_pairs(body: str) -> list[tuple[str, str]]:
    """Return the (name, value) pairs of an urlencoded body, as werkzeug's parser reads them.

    A field with nothing to decode (no `%`, no `+`) is split where it stands; any other goes
    through `parse_qsl` with werkzeug's own settings, so the result is always the same.
    """
    pairs: list[tuple[str, str]] = []
    for field in body.split("&"):
        if "%" in field or "+" in field:
            pairs += parse_qsl(field, keep_blank_values=True, errors="werkzeug.url_quote")
        elif field:
            name, _, value = field.partition("=")
            pairs.append((name, value))
    return pairs


class FormParser(FormDataParser):
    """werkzeug's form parser with the quicker urlencoded path above."""

    def _parse_urlencoded(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: Any
    ) -> tuple[IO[bytes], Any, Any]:
        return stream, self.cls(parse_pairs(stream.read().decode())), self.cls()


class WebRequest(Request):
    """Flask's request, its forms read by FormParser."""

    form_data_parser_class = FormParser
