"""Settings: TOML, environment overrides, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from afinitwin_appliance import config
from afinitwin_appliance.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_example_file_loads_and_equals_the_defaults(tmp_path):
    example = config.load(ROOT / "config.example.toml", {})
    defaults = config.load(None, {})
    assert example.port == defaults.port == 8080
    assert example.host == "127.0.0.1"
    assert dict(example.per_key) == dict(defaults.per_key)
    assert dict(example.per_address) == dict(defaults.per_address)
    assert example.per_address["preset"] == 300
    assert example.database == ROOT / "afinitwin.db"


def test_database_path_is_relative_to_the_configuration_folder(tmp_path):
    cfg = tmp_path / "etc" / "appliance.toml"
    cfg.parent.mkdir()
    cfg.write_text('[storage]\ndatabase = "../data/twin.db"\n')
    assert config.load(cfg, {}).database == tmp_path / "data" / "twin.db"


def test_environment_overrides_the_file(tmp_path):
    cfg = tmp_path / "a.toml"
    cfg.write_text("[server]\nport = 9000\n[rate_limits.per_address]\nme = 7\n")
    s = config.load(
        cfg,
        {
            "AFINITWIN_SERVER_PORT": "9100",
            "AFINITWIN_RATE_LIMITS_PER_ADDRESS_PRESET": "11",
            "AFINITWIN_SERVER_TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16",
        },
    )
    assert s.port == 9100
    assert s.per_address["me"] == 7 and s.per_address["preset"] == 11
    assert s.trusted_proxies == ("10.0.0.1", "10.1.0.0/16")


@pytest.mark.parametrize(
    "text,env,message",
    [
        (
            "[server]\nport = 70000\n",
            {},
            "server.port must be between 0 and 65535, not 70000",
        ),
        ("[server]\nport = 'x'\n", {}, "server.port must be a whole number, not 'x'"),
        (
            "",
            {"AFINITWIN_SERVER_THREADS": "many"},
            "server.threads must be a whole number",
        ),
        ("[server]\nhots = 1\n", {}, "unknown setting server.hots"),
        ("[sever]\n", {}, "unknown section [sever]"),
        (
            "[log]\nformat = 'xml'\n",
            {},
            "log.format must be one of text, json, not 'xml'",
        ),
        (
            "[quota]\ndefault_monthly = 0\n",
            {},
            "quota.default_monthly must be between 1",
        ),
        (
            "[server]\ntrusted_proxies = ['nope']\n",
            {},
            "server.trusted_proxies: 'nope' is not",
        ),
        (
            "[rate_limits.per_address]\nfoo = 1\n",
            {},
            "unknown setting rate_limits.per_address.foo",
        ),
        ("[rate_limits]\nme = -1\n", {}, "rate_limits.me must be between 1"),
        ("port = [", {}, "is not valid TOML"),
        (
            "[server]\nport = '8080'\n",
            {},
            "server.port must be a whole number, not '8080'",
        ),
        (
            "[server]\npublic_url = 'ftp://x y'\n",
            {},
            "server.public_url must be empty or",
        ),
        (
            "",
            {"AFINITWIN_SERVER_PROT": "1"},
            "unknown setting in the environment: AFINITWIN_SERVER_PROT",
        ),
        (
            "",
            {"AFINITWIN_RATE_LIMITS_PER_ADDRESS_MEE": "1"},
            "AFINITWIN_RATE_LIMITS_PER_ADDRESS_MEE",
        ),
    ],
)
def test_wrong_settings_are_refused_by_name(tmp_path, text, env, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(cfg, env)
    assert message in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml", {})
