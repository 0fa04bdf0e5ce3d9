import asyncio
import json

import pulumi
import pytest
from pydantic import SecretStr

from stack_config import ConfigError, StackConfig, load_stack_config, secret_output, setting_key

VALID = {
    "orchestra:environment": "dev",
    "orchestra:discordApplicationId": "1300000000000000001",
    "orchestra:discordPublicKey": "a" * 64,
    "orchestra:discordBotToken": "bot-token-value",
    "orchestra:cloudflareAccountId": "0123456789abcdef0123456789abcdef",
    "orchestra:cloudflareApiToken": "cloudflare-token",
    "orchestra:aiLoginLinkUrl": "https://app.example.com/sign-in",
    "orchestra:aiEmailFrom": "Orchestra <login@example.com>",
    "orchestra:emailApiKey": "email-key",
    "orchestra:imageApiKey": "image-key",
    "orchestra:githubAppId": "1000001",
    "orchestra:githubCredential": "-----BEGIN RSA PRIVATE KEY-----",
}


@pytest.fixture
def stack_settings(monkeypatch: pytest.MonkeyPatch):
    """Hands settings to the program the way the CLI does: the PULUMI_CONFIG environment bag."""

    def use(settings: dict[str, str]) -> None:
        pulumi.runtime.set_all_config({}, [])
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(settings))

    return use


def load(stack_settings, **overrides: str) -> StackConfig:
    stack_settings({**VALID, **{f"orchestra:{key}": value for key, value in overrides.items()}})
    return load_stack_config("orchestra")


def error_of(stack_settings, settings: dict[str, str]) -> str:
    stack_settings(settings)
    with pytest.raises(ConfigError) as raised:
        load_stack_config("orchestra")
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_defaults_fill_what_the_stack_leaves_out(stack_settings) -> None:
    config = load(stack_settings)
    assert config.environment == "dev"
    assert config.protect_stateful_resources is True
    assert config.log_retention_days == 14
    assert config.lambda_architecture == "arm64"
    assert config.alarm_email == ""
    # Each new worker version is deployed at once unless the stack asks for a canary.
    assert (config.worker_canary_percent, config.worker_canary_minutes) == (100, 5)
    # Workers Logs keeps every invocation unless the stack samples them.
    assert config.worker_log_sampling_percent == 100


def test_text_values_are_coerced_to_their_types(stack_settings) -> None:
    config = load(stack_settings, lambdaMemoryMb="512", protectStatefulResources="false", logRetentionDays="30")
    assert (config.lambda_memory_mb, config.protect_stateful_resources, config.log_retention_days) == (512, False, 30)


def test_settings_set_through_the_runtime_map_are_read_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    pulumi.runtime.set_all_config({**VALID, "orchestra:runTtlDays": "7"}, [])
    assert load_stack_config("orchestra").run_ttl_days == 7


def test_missing_setting_names_it_and_what_it_needs(stack_settings) -> None:
    settings = {k: v for k, v in VALID.items() if k != "orchestra:discordApplicationId"}
    message = error_of(stack_settings, settings)
    assert message == (
        "invalid stack configuration: orchestra:discordApplicationId: required setting is missing; "
        "set it to the Discord application's id (a 17-20 digit snowflake)."
    )


def test_unknown_environment_lists_what_is_allowed(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:environment": "production"})
    assert "orchestra:environment: Input should be 'dev', 'staging' or 'prod' (got 'production')" in message


def test_wrong_type(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:lambdaMemoryMb": "lots"})
    assert "orchestra:lambdaMemoryMb: Input should be a valid integer" in message
    assert "(got 'lots')" in message


def test_out_of_range_number(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:lambdaTimeoutSeconds": "60"})
    assert "orchestra:lambdaTimeoutSeconds: Input should be less than or equal to 29 (got '60')" in message


@pytest.mark.parametrize(
    ("setting", "value", "limit"),
    [
        ("lambdaCanaryPercent", "75", "less than or equal to 50"),
        ("lambdaCanaryPercent", "-1", "greater than or equal to 0"),
        ("lambdaCanaryMinutes", "45", "less than or equal to 30"),
        ("lambdaCanaryMinutes", "0", "greater than or equal to 1"),
        ("workerCanaryPercent", "0", "greater than or equal to 1"),
        ("workerCanaryPercent", "101", "less than or equal to 100"),
        ("workerCanaryMinutes", "0", "greater than or equal to 1"),
        ("workerCanaryMinutes", "31", "less than or equal to 30"),
        ("workerLogSamplingPercent", "0", "greater than or equal to 1"),
        ("workerLogSamplingPercent", "150", "less than or equal to 100"),
    ],
)
def test_a_canary_setting_out_of_range_is_named(stack_settings, setting: str, value: str, limit: str) -> None:
    message = error_of(stack_settings, {**VALID, f"orchestra:{setting}": value})
    assert f"orchestra:{setting}: Input should be {limit} (got '{value}')" in message


def test_retention_cloudwatch_rejects(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:logRetentionDays": "31"})
    assert (
        "orchestra:logRetentionDays: 31 is not a retention CloudWatch accepts; use one of 1, 3, 5, 7, 14, 30" in message
    )


def test_malformed_name(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:discordApplicationId": "my-app"})
    assert "orchestra:discordApplicationId: String should match pattern '^[0-9]{17,20}$' (got 'my-app')" in message


def test_unknown_key_suggests_the_likely_one(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:logRetentionDay": "30"})
    assert message == (
        "invalid stack configuration: orchestra:logRetentionDay: unknown setting "
        "(did you mean orchestra:logRetentionDays?)"
    )


def test_other_namespaces_are_the_providers_business(stack_settings) -> None:
    config = load(stack_settings, **{})
    stack_settings({**VALID, "aws:region": "eu-west-1"})
    assert load_stack_config("orchestra") == config


def test_blank_secret_is_rejected_without_echoing_it(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:discordBotToken": " leaked "})
    assert "orchestra:discordBotToken: must be a non-empty value without surrounding whitespace" in message
    assert "leaked" not in message


def test_every_error_is_reported_on_the_one_line(stack_settings) -> None:
    message = error_of(stack_settings, {**VALID, "orchestra:lambdaMemoryMb": "64", "orchestra:runTtlDays": "0"})
    assert "orchestra:lambdaMemoryMb:" in message and "orchestra:runTtlDays:" in message


def test_secrets_stay_secret(stack_settings) -> None:
    config = load(stack_settings)
    assert isinstance(config.discord_bot_token, SecretStr)
    assert "bot-token-value" not in repr(config)

    async def as_output() -> tuple[bool, str | None]:
        output = secret_output(config.discord_bot_token)
        return await output.is_secret(), await output.future()

    assert asyncio.run(as_output()) == (True, "bot-token-value")


def test_github_app_is_the_default_and_needs_its_id(stack_settings) -> None:
    config = load(stack_settings)
    assert (config.github_auth, config.github_app_id) == ("app", "1000001")
    settings = {k: v for k, v in VALID.items() if k != "orchestra:githubAppId"}
    assert error_of(stack_settings, settings) == (
        "invalid stack configuration: orchestra:githubAppId: required when githubAuth is app"
    )


def test_a_github_token_takes_no_app_id(stack_settings) -> None:
    config = load(stack_settings, githubAuth="token", githubAppId="", githubCredential="github_pat_x")
    assert config.github_auth == "token"
    message = error_of(stack_settings, {**VALID, "orchestra:githubAuth": "token"})
    assert message == (
        "invalid stack configuration: orchestra:githubAppId: must be empty when githubAuth is token (got '1000001')"
    )


def test_github_credential_is_required_and_never_echoed(stack_settings) -> None:
    settings = {k: v for k, v in VALID.items() if k != "orchestra:githubCredential"}
    assert "orchestra:githubCredential: required setting is missing" in error_of(stack_settings, settings)
    message = error_of(stack_settings, {**VALID, "orchestra:githubCredential": " key-with-space"})
    assert message.endswith("orchestra:githubCredential: must be a non-empty value without surrounding whitespace")
    assert "key-with-space" not in message


def test_worker_and_queue_settings_are_bounded(stack_settings) -> None:
    config = load(stack_settings)
    assert (config.worker_timeout_seconds, config.queue_max_receive_count, config.alarm_queue_age_seconds) == (
        60,
        5,
        900,
    )
    message = error_of(stack_settings, {**VALID, "orchestra:workerTimeoutSeconds": "901"})
    assert message == (
        "invalid stack configuration: orchestra:workerTimeoutSeconds: "
        "Input should be less than or equal to 900 (got '901')"
    )


def test_a_settings_key_is_the_one_pulumi_config_and_the_dynamic_providers_see() -> None:
    assert setting_key("cloudflare_api_token", "orchestra") == "orchestra:cloudflareApiToken"
    assert setting_key("discord_bot_token", "orchestra") == "orchestra:discordBotToken"


def test_error_tracking_is_off_without_a_dsn_and_a_bad_one_is_not_echoed(stack_settings) -> None:
    assert load(stack_settings).error_tracking_dsn.get_secret_value() == ""
    good = "https://" + "0a" * 16 + "@o1.ingest.sentry.io/4500000000000001"
    assert load(stack_settings, errorTrackingDsn=good).error_tracking_dsn.get_secret_value() == good
    for bad in ("http://" + "0a" * 16 + "@o1.ingest.sentry.io/1", "https://sentry.io/1", "not-a-dsn-secret-value"):
        message = error_of(stack_settings, {**VALID, "orchestra:errorTrackingDsn": bad})
        assert "orchestra:errorTrackingDsn: must be empty or a Sentry DSN" in message, message
        assert bad not in message
