"""Settings from the environment: defaults, the sandbox, and derived values."""

from __future__ import annotations

import pytest

from bot.config import (
    SANDBOX_FROM_NUMBER,
    TWILIO_API_BASE,
    Settings,
    SettingsError,
)


def test_no_credentials_means_the_sandbox() -> None:
    settings = Settings.from_env({})
    assert settings.sandbox
    assert not settings.verify_signatures
    assert settings.api_base == "http://127.0.0.1:8025"
    assert settings.from_number == SANDBOX_FROM_NUMBER
    assert settings.status_callback_url is None
    assert settings.default_timezone == "America/New_York"


def test_credentials_mean_twilio_and_signature_checks() -> None:
    settings = Settings.from_env(
        {
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "secret",
            "TWILIO_MESSAGING_SERVICE_SID": "MG123",
            "PUBLIC_URL": "https://sms.example.com/",
            "SECRET_KEY": "a long random string",
        }
    )
    assert not settings.sandbox
    assert settings.verify_signatures
    assert settings.api_base == TWILIO_API_BASE
    assert settings.from_number is None  # the Messaging Service picks the sender
    assert settings.status_callback_url == "https://sms.example.com/webhooks/twilio/status"


def test_the_default_region_follows_the_business_number() -> None:
    assert Settings.from_env({"TWILIO_FROM_NUMBER": "+442071838750"}).default_region == "GB"
    env = {"TWILIO_FROM_NUMBER": "+442071838750", "DEFAULT_REGION": "FR"}
    assert Settings.from_env(env).default_region == "FR"


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"REDIS_URL": "  ", "TWILIO_API_BASE": "", "API_TOKEN": ""})
    assert settings.redis_url is None
    assert settings.api_token is None
    assert settings.api_base == "http://127.0.0.1:8025"


def test_trusted_proxies_counts_proxies_and_defaults_to_zero() -> None:
    assert Settings.from_env({}).trusted_proxies == 0
    assert Settings.from_env({"TRUSTED_PROXIES": " 2 "}).trusted_proxies == 2


@pytest.mark.parametrize("value", ["-1", "one", "1.5", "²", "true"])
def test_a_bad_trusted_proxies_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": value})


BAD_SETTINGS = {
    "a misspelt zone": ("DEFAULT_TIMEZONE", "America/New_Yrok", "IANA time zone"),
    "a folder of zones": ("DEFAULT_TIMEZONE", "America", "IANA time zone"),
    "an unknown region": ("DEFAULT_REGION", "XX", "region"),
    "a country name": ("DEFAULT_REGION", "USA", "region"),
    "a public URL without scheme": ("PUBLIC_URL", "sms.example.com", "http"),
    "a public URL without host": ("PUBLIC_URL", "https://", "host"),
    "a public URL of another scheme": ("PUBLIC_URL", "ftp://sms.example.com", "http"),
    "an API base without scheme": ("TWILIO_API_BASE", "127.0.0.1:8025", "http"),
    "an NLU server without scheme": ("NLU_URL", "rasa:5005", "http"),
    "an NLU server without host": ("NLU_URL", "http:///model/parse", "host"),
    "a send timeout in words": ("SEND_TIMEOUT", "ten", "positive number"),
    "a zero send timeout": ("SEND_TIMEOUT", "0", "positive number"),
    "a negative send timeout": ("SEND_TIMEOUT", "-5", "positive number"),
    "an endless send timeout": ("SEND_TIMEOUT", "inf", "positive number"),
    "a send timeout that is not a number": ("SEND_TIMEOUT", "nan", "positive number"),
    "a claim delay in words": ("RECORD_CLAIM_AFTER", "soon", "positive number"),
    "no claim delay": ("RECORD_CLAIM_AFTER", "0", "positive number"),
    "a fractional concurrency": ("SEND_CONCURRENCY", "2.5", "whole number"),
    "no concurrency": ("SEND_CONCURRENCY", "0", "whole number"),
    "a port in words": ("PORT", "http", "port"),
    "a port out of range": ("PORT", "70000", "port"),
    "no web processes": ("WEB_CONCURRENCY", "0", "whole number"),
    "threads in words": ("WEB_THREADS", "four", "whole number"),
    "no retention": ("RECORD_RETENTION_DAYS", "0", "whole number of days above 0"),
    "a negative retention": ("RECORD_RETENTION_DAYS", "-30", "whole number of days"),
    "a retention with its unit": ("RECORD_RETENTION_DAYS", "90d", "whole number of days"),
    "a fractional retention": ("RECORD_RETENTION_DAYS", "1.5", "whole number of days"),
    "a retention in words": ("RECORD_RETENTION_DAYS", "forever", "unset keeps everything"),
    "a link base without scheme": ("LINK_BASE_URL", "go.example.com", "http"),
    "a link base without host": ("LINK_BASE_URL", "https://", "host"),
    "a link lifetime in words": ("LINK_TTL_DAYS", "a year", "whole number"),
    "no link lifetime": ("LINK_TTL_DAYS", "0", "whole number"),
}


@pytest.mark.parametrize(("name", "value", "says"), BAD_SETTINGS.values(), ids=BAD_SETTINGS)
def test_a_bad_setting_names_the_variable_and_what_is_wrong(
    name: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value).startswith(f"{name} ")
    assert says in str(raised.value)
    assert value in str(raised.value)


def test_short_links_go_on_link_base_url_else_public_url() -> None:
    env = {"PUBLIC_URL": "https://sms.example.com/"}
    assert Settings.from_env(env).link_base == "https://sms.example.com"
    both = Settings.from_env({**env, "LINK_BASE_URL": "https://go.example/"})
    assert both.link_base == "https://go.example"
    assert both.link_ttl_days == 400
    assert Settings.from_env({"LINK_TTL_DAYS": "30"}).link_ttl_days == 30
    neither = Settings.from_env({})
    assert neither.link_base is None
    assert any("LINK_BASE_URL" in warning for warning in neither.startup_warnings())
    assert not any("LINK_BASE_URL" in warning for warning in both.startup_warnings())


def test_the_record_keeps_everything_unless_a_retention_is_set() -> None:
    assert Settings.from_env({}).record_retention_days is None
    assert Settings.from_env({"RECORD_RETENTION_DAYS": " "}).record_retention_days is None
    assert Settings.from_env({"RECORD_RETENTION_DAYS": "365"}).record_retention_days == 365


def test_good_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "DEFAULT_TIMEZONE": "Europe/Paris",
            "DEFAULT_REGION": "fr",
            "PUBLIC_URL": "http://127.0.0.1:5000/",
            "TWILIO_API_BASE": "https://api.twilio.com",
            "NLU_URL": "http://rasa:5005/",
            "SEND_TIMEOUT": "2.5",
            "SEND_CONCURRENCY": "16",
            "PORT": "8080",
            "RECORD_CLAIM_AFTER": "0.5",
        }
    )
    assert settings.default_timezone == "Europe/Paris"
    assert settings.default_region == "FR"
    assert settings.public_url == "http://127.0.0.1:5000"
    assert settings.nlu_url == "http://rasa:5005"
    assert (settings.send_timeout, settings.send_concurrency, settings.port) == (2.5, 16, 8080)
    assert settings.record_claim_after == 0.5
    assert Settings.from_env({}).record_claim_after == 30.0


@pytest.mark.parametrize("secret", [None, "", "dev", " dev "])
def test_twilio_credentials_need_a_secret_key_of_their_own(secret: str | None) -> None:
    env = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(SettingsError, match=r"^SECRET_KEY must be set"):
        Settings.from_env(env)


def test_the_sandbox_signs_sessions_with_the_default_key() -> None:
    assert Settings.from_env({}).secret_key == "dev"
    env = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "t", "SECRET_KEY": "k" * 32}
    assert Settings.from_env(env).secret_key == "k" * 32
