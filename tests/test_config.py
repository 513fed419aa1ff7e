"""Settings from the environment: defaults, the sandbox, and derived values."""

from __future__ import annotations

import pytest

from bot.config import (
    SANDBOX_API_BASE,
    SANDBOX_FROM_NUMBER,
    TWILIO_API_BASE,
    Settings,
    SettingsError,
)


def test_no_credentials_means_the_sandbox() -> None:
    settings = Settings.from_env({})
    assert settings.sandbox
    assert not settings.verify_signatures
    assert settings.api_base == SANDBOX_API_BASE
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
    assert settings.api_base == SANDBOX_API_BASE


def test_trusted_proxies_counts_proxies_and_defaults_to_zero() -> None:
    assert Settings.from_env({}).trusted_proxies == 0
    assert Settings.from_env({"TRUSTED_PROXIES": " 2 "}).trusted_proxies == 2


@pytest.mark.parametrize("value", ["-1", "one", "1.5", "²", "true"])
def test_a_bad_trusted_proxies_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": value})
