"""Form bodies as Twilio posts them: many short plain fields, parsed without per-field decoding."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote

import werkzeug.urls  # noqa: F401  (registers the codec error handler named below)
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.formparser import FormDataParser

# The codec error handler werkzeug parses forms with: bytes that are not UTF-8 stay
# percent-encoded instead of failing the form.
_KEEP_INVALID = "werkzeug.url_quote"


def parse_pairs(body: str) -> list[tuple[str, str]]:
    """Return the (name, value) pairs of an urlencoded body, as werkzeug's parser reads them.

    That is `parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")`, minus
    its per-field overhead: a field with nothing to decode (no `%`, no `+`) is split where
    it stands, and only the others are unquoted.
    """
    pairs: list[tuple[str, str]] = []
    for field in body.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name = unquote(name.replace("+", " "), errors=_KEEP_INVALID)
            value = unquote(value.replace("+", " "), errors=_KEEP_INVALID)
        pairs.append((name, value))
    return pairs


class FormParser(FormDataParser):
    """werkzeug's form parser with the quicker urlencoded path above."""

    def _parse_urlencoded(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: Any
    ) -> tuple[IO[bytes], Any, Any]:
        return stream, self.cls(parse_pairs(stream.read().decode())), self.cls()


class FormData(ImmutableMultiDict[str, str]):
    """Flask's immutable MultiDict, plus the `getall` that twilio's RequestValidator asks for.

    Without it the validator reaches `getlist` only after an AttributeError per field.
    A MultiDict keeps each key's values in a list, which `getall` hands out as it is.
    """

    if TYPE_CHECKING:

        def getall(self, key: str) -> list[str]:
            """Return every value of `key`; KeyError when it has none."""
            ...

    else:
        getall = dict.__getitem__  # the stored list itself, with no Python call in between


class WebRequest(Request):
    """Flask's request, its forms read by FormParser into FormData."""

    form_data_parser_class = FormParser
    parameter_storage_class = FormData
