"""Read what a step says to people: templates, checked, and messages in several languages."""

from __future__ import annotations

import re
from types import MappingProxyType

import jinja2
from yaml.nodes import MappingNode, Node

from flows.definition.context import Context, FieldUse, MessageText, line_of
from flows.definition.values import read_pairs, read_text
from flows.definition.wording import find_keyword_requests
from flows.model import Text
from flows.template import compile_template, references, unknown_variables

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def read_message(ctx: Context, node: Node | None, what: str) -> Text | None:
    """Read a message: one template, or templates by language ({en: ..., es: ...})."""
    if node is None:
        return None
    if not isinstance(node, MappingNode):
        return read_template(ctx, node, what)
    variants: dict[str, str] = {}
    for key, value in read_pairs(ctx, node, what, "{en: Hello, es: Hola}"):
        if not LANGUAGE_CODE.fullmatch(key.value):
            ctx.error(key, f"{key.value!r} in `{what}` is not a language code like en or es")
            continue
        text = read_template(ctx, value, f"{what} ({key.value})")
        if text is not None:
            variants[key.value] = text
    if not node.value:
        ctx.error(node, f"`{what}` needs at least one language")
    return MappingProxyType(variants) if variants else None


def read_template(ctx: Context, node: Node | None, what: str, sent: bool = True) -> str | None:
    """Return a template after checking its syntax, names and wording.

    sent=False is for templates that fill in data rather than a message to people.
    """
    text = read_text(ctx, node, what)
    if text is None or node is None:
        return None
    try:
        compile_template(text)
    except jinja2.TemplateSyntaxError as exc:
        ctx.error(_template_line(node, exc.lineno), f"template error in `{what}`: {exc}")
        return None
    for name in unknown_variables(text):
        known = "use contact, event, run, business"
        message = f"unknown template variable {name!r} in `{what}` ({known})"
        ctx.error(node, message)
    ctx.uses.extend(FieldUse(line_of(node), what, ref) for ref in references(text))
    for request in find_keyword_requests(text):
        ctx.error(
            _keyword_line(ctx, node, text, request.offset, request.keyword),
            f"`{what}` asks people to reply {request.keyword}, a carrier opt-out keyword: "
            f"it would unsubscribe them ({request.sentence!r}); use another word",
        )
    if sent:
        ctx.messages.append(MessageText(line_of(node), what, text))
    return text


def _template_line(node: Node, lineno: int | None) -> int:
    """Return the file line of a template error reported at the template's lineno."""
    # Only a literal block keeps the template's own line breaks.
    style = getattr(node, "style", None)
    if style == "|":
        return line_of(node) + (lineno or 1)
    return line_of(node) + (1 if style == ">" else 0)


def _keyword_line(ctx: Context, node: Node, text: str, offset: int, keyword: str) -> int:
    """Return the file line where the keyword at offset in the template sits."""
    # Find the same occurrence in the raw source, where folded lines are still apart.
    word = re.compile(rf"(?<![\w-]){keyword}(?![\w-])", re.IGNORECASE)
    nth = len(word.findall(text, 0, offset))
    raw = ctx.source[node.start_mark.index : node.end_mark.index]
    matches = list(word.finditer(raw))
    if nth < len(matches):
        return line_of(node) + raw.count("\n", 0, matches[nth].start())
    return line_of(node)
