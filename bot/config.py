"""Settings read from the environment, once, at start-up."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

import phonenumbers

from bot.domain.frequency import Cap
from bot.domain.phones import region_of
from bot.domain.quiet_hours import QuietHours
from flows.definition.values import parse_duration
from flows.timing import zone_named

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The TCPA's: telephone solicitations only from 8 a.m. to 9 p.m. at the called party's place.
QUIET_HOURS = QuietHours(time(21), time(8))
T = TypeVar("T")

# The sandbox talks to the local emulator with these fixed credentials.
SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
SANDBOX_AUTH_TOKEN = "sandbox-token"
SANDBOX_FROM_NUMBER = "+15005550006"
TWILIO_API_BASE = "https://api.twilio.com"


class SettingsError(ValueError):
    """A variable in the environment that Parley cannot use; the message names it."""


def _count(name: str, value: str | None) -> int:
    """Return a count of things from the variable `name`: unset is 0."""
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()):
        raise SettingsError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(value)


def _positive_int(name: str, value: str | None, default: int) -> int:
    """Return a whole number above 0 from the variable `name`: unset is `default`."""
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) == 0:
        raise SettingsError(f"{name} must be a whole number above 0, not {value!r}")
    return int(value)


def retention_days(text: str) -> int:
    """Return the days the record keeps what retention trims; ValueError says what is wrong."""
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise ValueError(f"must be a whole number of days above 0, not {text!r}")
    return int(text)


def _retention(name: str, value: str | None) -> int | None:
    """Return the record's retention in days from the variable `name`: unset keeps everything."""
    if value is None:
        return None
    try:
        return retention_days(value)
    except ValueError as exc:
        raise SettingsError(f"{name} {exc} (unset keeps everything)") from None


def port_number(text: str) -> int:
    """Return the TCP port `text` names; ValueError says why it names none."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ValueError(f"must be a port from 1 to 65535, not {text!r}")
    return int(text)


def _port(name: str, value: str | None, default: int) -> int:
    """Return a TCP port from the variable `name`: unset is `default`."""
    return _parsed(name, value, port_number, default)


def _seconds(name: str, value: str | None, default: float) -> float:
    """Return a positive, finite number of seconds from the variable `name`."""
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise SettingsError(f"{name} must be a positive number of seconds, not {value!r}")
    return number


def _span(name: str, value: str | None) -> float | None:
    """Return a span like "24h", "30m" or "1h30m" from the variable `name`, in seconds."""
    if value is None:
        return None
    span = parse_duration(value)
    if span is None or span.total_seconds() <= 0:
        raise SettingsError(f"{name} must be a span such as 30m, 24h or 2d, not {value!r}")
    return span.total_seconds()


def _parsed(name: str, value: str | None, read: Callable[[str], T], default: T) -> T:
    """Return what `read` makes of the variable `name`: unset is `default`."""
    if value is None:
        return default
    try:
        return read(value)
    except ValueError as exc:
        raise SettingsError(f"{name} {exc}") from None


def _url(name: str, value: str | None) -> str | None:
    """Return an http(s) URL with a host from the variable `name`, without a trailing /."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. a port that is not a number
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https"):
        raise SettingsError(f"{name} must be an http:// or https:// URL, not {value!r}")
    if not host:
        raise SettingsError(f"{name} must be a URL with a host, not {value!r}")
    return value.rstrip("/")


# The databases the record runs on, and the driver each URL must name.
DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")


def _database_url(name: str, value: str | None) -> str | None:
    """Return a SQLAlchemy URL for the record from the variable `name`."""
    if value is None:
        return None
    scheme = value.partition("://")[0]
    if scheme == "postgresql" or scheme == "postgres":
        # The common form of a PostgreSQL URL: use the driver Parley installs.
        value = "postgresql+psycopg://" + value.partition("://")[2]
    elif scheme not in DATABASE_SCHEMES:
        raise SettingsError(
            f"{name} must be a postgresql+psycopg:// or sqlite:/// URL, not {value!r}"
        )
    return value


def nlu_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """Return NLU_URL, checked, for the commands that read no other setting (parse)."""
    env = os.environ if env is None else env
    return _url("NLU_URL", env.get("NLU_URL", "").strip() or None)


def _zone(name: str, value: str | None, default: str) -> str:
    """Return the IANA time zone named by the variable `name`."""
    if value is None:
        return default
    if zone_named(value) is None:
        raise SettingsError(
            f"{name} must be an IANA time zone such as 'America/New_York', not {value!r}"
        )
    return value


def _region(name: str, value: str | None, default: str) -> str:
    """Return the phone region (e.g. 'US', 'GB') named by the variable `name`."""
    if value is None:
        return default
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(
            f"{name} must be a two-letter region that phone numbers use, such as 'US' or"
            f" 'GB', not {value!r}"
        )
    return value.upper()


@dataclass(frozen=True)
class Settings:
    """Everything Parley reads from its environment (see README, Configuration)."""

    redis_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str | None = None
    public_url: str | None = None
    api_token: str | None = None
    metrics_token: str | None = None  # bearer token for /metrics; None leaves it open
    secret_key: str = "dev"  # signs inbox sessions; from_env refuses it with Twilio credentials
    flows_dir: str | None = None
    action_endpoint: str | None = None
    nlu_url: str | None = None  # a Rasa server that reads free text (bot.conversation.rasa_server)
    default_timezone: str = "America/New_York"
    default_region: str = "US"
    business_name: str = "Parley"
    business_contact: str = ""
    var_dir: Path = field(default=PROJECT_ROOT / "var")
    send_concurrency: int = 8
    send_timeout: float = 15.0
    trusted_proxies: int = 0  # proxies in front whose X-Forwarded-* headers count
    port: int = 5000  # gunicorn binds it (Procfile); read here so a bad one stops start-up
    database_url: str | None = None  # the record; None is SQLite under var_dir
    record_retention_days: int | None = None  # None keeps everything (bot.record.retention)
    # How long an entry a recorder read stays unwritten before another recorder takes it.
    record_claim_after: float = 30.0
    sandbox_port: int = 8025  # where `make run` starts the SMS sandbox without credentials
    # A conversation staff own goes back to the bot after this many seconds without a
    # staff action (None: it stays theirs until they hand it back).
    handback_after: float | None = None
    # Told about each conversation that starts waiting for staff (bot.delivery.handoff_notice).
    handoff_webhook_url: str | None = None
    handoff_webhook_secret: str | None = None  # signs what it is told
    # Marketing waits out these hours in each recipient's local time (stricter state rules,
    # bot.domain.state_rules, apply on top); None only where a test turns them off.
    quiet_hours: QuietHours | None = QUIET_HOURS
    frequency_cap: Cap | None = None  # marketing messages a contact may get per window
    # Where tracked short links point (`<link_base_url>/l/<code>`); None: PUBLIC_URL.
    link_base_url: str | None = None
    link_ttl_days: int = 400  # how long Redis keeps a short link; the record keeps it for good

    @property
    def record_url(self) -> str:
        """Return where the record is: DATABASE_URL, else a SQLite file under var_dir."""
        return self.database_url or f"sqlite:///{self.var_dir.resolve() / 'record.sqlite3'}"

    @property
    def sandbox(self) -> bool:
        """Say whether outbound goes to the local sandbox instead of Twilio."""
        return not (self.twilio_account_sid and self.twilio_auth_token)

    @property
    def account_sid(self) -> str:
        """Return the account SID the Twilio client uses."""
        return self.twilio_account_sid or SANDBOX_ACCOUNT_SID

    @property
    def auth_token(self) -> str:
        """Return the auth token the Twilio client uses."""
        return self.twilio_auth_token or SANDBOX_AUTH_TOKEN

    @property
    def api_base(self) -> str:
        """Return where the Twilio client sends requests: Twilio, or the local sandbox."""
        if self.twilio_api_base:
            return self.twilio_api_base
        if not self.sandbox:
            return TWILIO_API_BASE
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def from_number(self) -> str | None:
        """Return the sender number, if any (the sandbox has one of its own)."""
        if self.twilio_from_number or self.twilio_messaging_service_sid:
            return self.twilio_from_number
        return SANDBOX_FROM_NUMBER if self.sandbox else None

    @property
    def verify_signatures(self) -> bool:
        """Say whether inbound webhooks must carry a valid X-Twilio-Signature."""
        return not self.sandbox

    @property
    def status_callback_url(self) -> str | None:
        """Return the URL Twilio posts delivery updates to, if Parley has a public URL."""
        if not self.public_url:
            return None
        return self.public_url.rstrip("/") + "/webhooks/twilio/status"

    def status_callback_for(self, ref: str) -> str | None:
        """Return the status callback URL for one message, naming it by its ref.

        A callback can then settle a send whose answer from Twilio never arrived.
        """
        url = self.status_callback_url
        return f"{url}?{urlencode({'message': ref})}" if url else None

    @property
    def link_base(self) -> str | None:
        """Return the base URL of tracked short links: LINK_BASE_URL, else PUBLIC_URL."""
        return self.link_base_url or self.public_url

    def startup_warnings(self) -> list[str]:
        """Return what web and worker warn about at start-up: settings that work, but badly."""
        warnings = []
        if not (self.business_contact or self.sandbox):
            # Carriers expect the HELP reply to say how to reach the business.
            warnings.append(
                "BUSINESS_CONTACT is unset, so HELP replies cannot say how to reach you;"
                " set it to e.g. '+1 415 555 0100 or help@example.com'"
            )
        if self.link_base is None:
            # A short link needs an address people's phones can reach.
            warnings.append(
                "LINK_BASE_URL and PUBLIC_URL are unset, so links in messages are sent as"
                " they are, without tracking; set LINK_BASE_URL (or PUBLIC_URL) to e.g."
                " 'https://sms.example.com'"
            )
        return warnings

    @property
    def business(self) -> dict[str, str]:
        """Return the business profile that templates and compliance replies use."""
        return {
            "name": self.business_name,
            "contact": self.business_contact,
            "phone": self.from_number or "",
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; unset or empty means the default.

        Raise SettingsError, naming the variable, for a value Parley cannot use: a process
        stops at start-up rather than fail at every tick or send.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        defaults = cls()
        # gunicorn reads these from the Procfile's command line; checked here too so that
        # every process refuses them the same way.
        _positive_int("WEB_CONCURRENCY", get("WEB_CONCURRENCY"), 2)
        _positive_int("WEB_THREADS", get("WEB_THREADS"), 4)
        secret_key = get("SECRET_KEY") or defaults.secret_key
        if get("TWILIO_ACCOUNT_SID") and get("TWILIO_AUTH_TOKEN") and secret_key == "dev":
            # Anyone who knows the key can forge a staff member's session cookie.
            raise SettingsError(
                "SECRET_KEY must be set, to a long random string and not 'dev', when Twilio"
                " credentials are: it signs the staff inbox's sessions (make one with"
                " python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return cls(
            redis_url=get("REDIS_URL"),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_from_number=get("TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=get("TWILIO_MESSAGING_SERVICE_SID"),
            twilio_api_base=_url("TWILIO_API_BASE", get("TWILIO_API_BASE")),
            public_url=_url("PUBLIC_URL", get("PUBLIC_URL")),
            api_token=get("API_TOKEN"),
            metrics_token=get("METRICS_TOKEN"),
            secret_key=secret_key,
            flows_dir=get("FLOWS_DIR"),
            action_endpoint=get("ACTION_ENDPOINT"),
            nlu_url=nlu_url_from_env(env),
            default_timezone=_zone(
                "DEFAULT_TIMEZONE", get("DEFAULT_TIMEZONE"), defaults.default_timezone
            ),
            default_region=_region(
                "DEFAULT_REGION",
                get("DEFAULT_REGION"),
                region_of(get("TWILIO_FROM_NUMBER"), defaults.default_region),
            ),
            business_name=get("BUSINESS_NAME") or defaults.business_name,
            business_contact=get("BUSINESS_CONTACT") or defaults.business_contact,
            var_dir=Path(get("PARLEY_VAR_DIR") or defaults.var_dir),
            send_concurrency=_positive_int(
                "SEND_CONCURRENCY", get("SEND_CONCURRENCY"), defaults.send_concurrency
            ),
            send_timeout=_seconds("SEND_TIMEOUT", get("SEND_TIMEOUT"), defaults.send_timeout),
            trusted_proxies=_count("TRUSTED_PROXIES", get("TRUSTED_PROXIES")),
            port=_port("PORT", get("PORT"), defaults.port),
            database_url=_database_url("DATABASE_URL", get("DATABASE_URL")),
            record_retention_days=_retention("RECORD_RETENTION_DAYS", get("RECORD_RETENTION_DAYS")),
            record_claim_after=_seconds(
                "RECORD_CLAIM_AFTER", get("RECORD_CLAIM_AFTER"), defaults.record_claim_after
            ),
            sandbox_port=_port("SANDBOX_PORT", get("SANDBOX_PORT"), defaults.sandbox_port),
            handback_after=_span("HANDBACK_AFTER", get("HANDBACK_AFTER")),
            handoff_webhook_url=_url("HANDOFF_WEBHOOK_URL", get("HANDOFF_WEBHOOK_URL")),
            handoff_webhook_secret=get("HANDOFF_WEBHOOK_SECRET"),
            quiet_hours=_parsed("QUIET_HOURS", get("QUIET_HOURS"), QuietHours.parse, QUIET_HOURS),
            frequency_cap=_parsed("FREQUENCY_CAP", get("FREQUENCY_CAP"), Cap.parse, None),
            link_base_url=_url("LINK_BASE_URL", get("LINK_BASE_URL")),
            link_ttl_days=_positive_int(
                "LINK_TTL_DAYS", get("LINK_TTL_DAYS"), defaults.link_ttl_days
            ),
        )
