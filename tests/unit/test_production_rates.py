"""The production config paces its senders at their published rates (issue 20, item 2), not at the 1 msg/s
fallback: samconfig.toml's prod overrides, parsed the way `sam deploy` parses them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from samcli.cli.types import CfnParameterOverridesType

from smscore.providers.senders import DEFAULT_RATES
from smsdev.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def prod_overrides() -> dict[str, str]:
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides: dict[str, str] = CfnParameterOverridesType().convert(
        samconfig["prod"]["deploy"]["parameters"]["parameter_overrides"], None, None
    )
    return overrides


def test_prod_sets_the_published_rates_of_both_real_providers() -> None:
    # Given the prod config as sam deploy reads it
    overrides = prod_overrides()
    # Then ProviderRateLimits is valid JSON naming both real providers at their long-code rate to Colombia
    rates = json.loads(overrides["ProviderRateLimits"])
    assert rates == {"aws_sms": 10, "twilio": 10}
    assert overrides["DefaultProvider"] in rates
    # And it is faster than the fallback every unset provider gets
    assert all(rate > DEFAULT_RATES[provider] for provider, rate in rates.items())


def test_a_50000_message_campaign_drains_within_the_validity_at_the_prod_rate() -> None:
    # Given the prod rate of the default provider and the template's default validity
    overrides = prod_overrides()
    rate = json.loads(overrides["ProviderRateLimits"])[overrides["DefaultProvider"]]
    validity = int(load_template()["Parameters"]["MessageValiditySeconds"]["Default"])
    # Then 50,000 messages take 5,000 s, inside the 4 h validity (at the 1 msg/s fallback: 13.9 h, 72% expired)
    assert 50_000 / rate == 5_000
    assert 50_000 / rate < validity
    assert 50_000 / DEFAULT_RATES["aws_sms"] > validity
