"""Render journey message templates and conditions in a sandbox, with time and money filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import ChainableUndefined, meta, nodes, pass_context
from jinja2.runtime import Context as JinjaContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.timing import moment, zone_of

# The only names a template may use; anything else is a typo caught at load.
VARIABLES: frozenset[str] = frozenset({"contact", "event", "business", "run"})

# Fixed English names: strftime's %a/%b/%p follow the process locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Currency code -> (symbol, decimal places); other codes are written before the amount.
CURRENCIES: dict[str, tuple[str, int]] = {
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "GBP": ("£", 2),
    "JPY": ("¥", 0),
    "INR": ("₹", 2),
    "CAD": ("CA$", 2),
    "AUD": ("A$", 2),
    "NZD": ("NZ$", 2),
    "MXN": ("MX$", 2),
    "BRL": ("R$", 2),
    "CHF": ("CHF ", 2),
}
DEFAULT_CURRENCY = "USD"


class _Environment(ImmutableSandboxedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data keys win over dict methods, so `event.items` is the event's field.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


class _Placeholder(ChainableUndefined):
    """A missing value that counts as present, so conditional text is measured too."""

    def __bool__(self) -> bool:
        return True


# Where the engine puts the current time for `hours_until` and for the year in dates;
# templates cannot name it.
NOW = "_now"


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, jinja2.Undefined)


def _format_date(context: JinjaContext, day: date) -> str:
    text = f"{_DAYS[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}"
    # "Tue, Jan 5" read in December means next month, so another year is always written out.
    now = context.get(NOW)
    if isinstance(now, datetime) and day.year != _localize(context, now).year:
        text += f", {day.year}"
    return text


def _localize(context: JinjaContext, value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(zone_of(context.get("contact"), context.get("business")))


@pass_context
def local_time(context: JinjaContext, value: Any) -> str:
    """Render an ISO-8601 time in the contact's time zone: "Tue, Nov 24 at 3:30 PM"."""
    if _missing(value):
        return ""
    found = moment(value)
    if found is None:
        return str(value)
    if not isinstance(found, datetime):
        return _format_date(context, found)
    local = _localize(context, found)
    hour = local.hour % 12 or 12
    half = "AM" if local.hour < 12 else "PM"
    return f"{_format_date(context, local)} at {hour}:{local.minute:02d} {half}"


@pass_context
def local_date(context: JinjaContext, value: Any) -> str:
    """Render an ISO-8601 time as a date in the contact's time zone: "Tue, Nov 24"."""
    if _missing(value):
        return ""
    found = moment(value)
    if found is None:
        return str(value)
    if isinstance(found, datetime):
        found = _localize(context, found)
    return _format_date(context, found)


@pass_context
def money(context: JinjaContext, value: Any, currency: Any = None) -> str:
    """Render an amount with its currency: 42.5 -> "$42.50", money('EUR') -> "€42.50"."""
    if _missing(value) or value == "" or isinstance(value, bool):
        return ""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    business = context.get("business")
    fallback = business.get("currency") if isinstance(business, Mapping) else None
    code = next(c for c in (currency, fallback, DEFAULT_CURRENCY) if isinstance(c, str) and c)
    symbol, places = CURRENCIES.get(code.upper(), (f"{code.upper()} ", 2))
    rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{symbol}{abs(rounded):,.{places}f}"


@pass_context
def hours_until(context: JinjaContext, value: Any) -> float | None:
    """Return the hours from now until an ISO-8601 time: negative once it has passed."""
    now = context.get(NOW)
    found = None if _missing(value) else moment(value)
    if not isinstance(found, datetime) or not isinstance(now, datetime):
        return None
    aware = found if found.tzinfo is not None else found.replace(tzinfo=UTC)
    return (aware - now).total_seconds() / 3600


ENVIRONMENT = _Environment(
    undefined=ChainableUndefined,
    finalize=_finalize,
    autoescape=False,
    keep_trailing_newline=False,
)
ENVIRONMENT.filters["local_time"] = local_time
ENVIRONMENT.filters["local_date"] = local_date
ENVIRONMENT.filters["money"] = money
ENVIRONMENT.filters["hours_until"] = hours_until
# Renders every missing value as a present, empty one: what is left is the fixed text.
_MEASURING = ENVIRONMENT.overlay(undefined=_Placeholder)


@lru_cache(maxsize=2048)
def compile_template(text: str) -> jinja2.Template:
    """Compile a template once; later calls with the same text reuse it."""
    return ENVIRONMENT.from_string(text)


@lru_cache(maxsize=1024)
def compile_condition(expression: str) -> Any:
    """Compile a branch condition once; raise TemplateSyntaxError when it is not one."""
    return ENVIRONMENT.compile_expression(expression, undefined_to_none=False)


def unknown_variables(text: str) -> list[str]:
    """Return the top-level names a template uses that are not contact, event, business or run."""
    names = meta.find_undeclared_variables(ENVIRONMENT.parse(text))
    return sorted(names - VARIABLES)


def references(text: str) -> list[str]:
    """Return the "contact.x" / "event.x" / "business.x" / "run.x" fields a template reads."""
    found: set[str] = set()
    for node in ENVIRONMENT.parse(text).find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):  # find_all is typed loosely
            continue
        owner = node.node
        if not isinstance(owner, nodes.Name) or owner.name not in VARIABLES:
            continue
        if isinstance(node, nodes.Getattr):
            found.add(f"{owner.name}.{node.attr}")
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(f"{owner.name}.{node.arg.value}")
    return sorted(found)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render a template with contact, event, business and run; missing values render as ""."""
    if "{" not in text:  # no expression, statement or comment: the text renders as itself
        return text.strip()
    return compile_template(text).render(variables).strip()


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    """Tell whether a condition holds; one that fails to evaluate counts as false."""
    try:
        return bool(compile_condition(expression)(**variables))
    except Exception:
        return False


def fixed_text(text: str, defaults: Mapping[str, Any]) -> str:
    """Render a template with only the declared defaults: the text every message carries."""
    variables: dict[str, dict[str, Any]] = {name: {} for name in VARIABLES}
    for key, value in defaults.items():
        holder, _, name = key.partition(".")
        variables.setdefault(holder, {})[name] = value
    return _MEASURING.from_string(text).render(variables).strip()
