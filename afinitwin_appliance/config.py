"""Settings: one typed object, read from TOML, overridable from the environment.

Every setting is declared once in SPEC with its type and default; loading,
environment overrides (AFINITWIN_<SECTION>_<KEY>), validation and the
documentation in config.example.toml all follow that one table, so a setting
cannot exist in one place and be missing in another. A wrong setting stops the
start with a message that names it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import quota
from .errors import DomainError

ENDPOINTS = (
    "health",
    "me",
    "historic",
    "snapshots",
    "preset",
    "life_facts",
    "annotations",
)
PER_KEY_DEFAULTS = {
    "health": 120,
    "me": 60,
    "historic": 60,
    "snapshots": 60,
    "preset": 60,
    "life_facts": 30,
    "annotations": 30,
}
PER_ADDRESS_FACTOR = 5
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


class ConfigError(DomainError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8
    trusted_proxies: tuple[str, ...] = ()
    public_url: str = ""
    database: Path = Path("afinitwin.db")
    busy_timeout_ms: int = 5000
    default_monthly: int = quota.DEFAULT_MONTHLY
    per_key: Mapping[str, int] = field(default_factory=lambda: dict(PER_KEY_DEFAULTS))
    per_address: Mapping[str, int] = field(
        default_factory=lambda: {
            k: v * PER_ADDRESS_FACTOR for k, v in PER_KEY_DEFAULTS.items()
        }
    )
    max_tracked: int = 50_000
    log_level: str = "info"
    log_format: str = "text"
    source: Path | None = None

    @property
    def trusted_networks(
        self,
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies
        )


# (section, key, attribute, kind): the single list of settings.
SPEC: tuple[tuple[str, str, str, str], ...] = (
    ("server", "host", "host", "str"),
    ("server", "port", "port", "port"),
    ("server", "threads", "threads", "threads"),
    ("server", "trusted_proxies", "trusted_proxies", "networks"),
    ("server", "public_url", "public_url", "url"),
    ("storage", "database", "database", "path"),
    ("storage", "busy_timeout_ms", "busy_timeout_ms", "timeout"),
    ("quota", "default_monthly", "default_monthly", "quota"),
    ("rate_limits", "max_tracked", "max_tracked", "positive"),
    ("log", "level", "log_level", "level"),
    ("log", "format", "log_format", "format"),
)


def env_name(section: str, key: str) -> str:
    return f"AFINITWIN_{section}_{key}".upper().replace(".", "_")


def load(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from a TOML file (defaults when path is None) and the env."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    base = Path.cwd()
    source = None
    if path is not None:
        source = Path(path).expanduser().resolve()
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {source} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"configuration file {source} cannot be read: {exc}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"configuration file {source} is not valid TOML: {exc}"
            ) from None
        base = source.parent

    _refuse_unknown(raw)
    _refuse_unknown_environment(environ)
    values: dict[str, Any] = {"source": source}
    for section, key, attr, kind in SPEC:
        name = f"{section}.{key}"
        value = _lookup(raw, section, key, environ, kind)
        if value is not None:
            values[attr] = _convert(name, kind, value, base)
    if "database" not in values:
        values["database"] = base / Settings.database

    limits = raw.get("rate_limits", {})
    per_key = dict(PER_KEY_DEFAULTS)
    for endpoint in ENDPOINTS:
        value = _lookup(raw, "rate_limits", endpoint, environ, "positive")
        if value is not None:
            per_key[endpoint] = _convert(
                f"rate_limits.{endpoint}", "positive", value, base
            )
    per_address = {k: v * PER_ADDRESS_FACTOR for k, v in per_key.items()}
    nested = limits.get("per_address", {}) if isinstance(limits, dict) else {}
    for endpoint in ENDPOINTS:
        value = _lookup(
            {"rate_limits.per_address": nested},
            "rate_limits.per_address",
            endpoint,
            environ,
            "positive",
        )
        if value is not None:
            per_address[endpoint] = _convert(
                f"rate_limits.per_address.{endpoint}", "positive", value, base
            )
    return Settings(**values, per_key=per_key, per_address=per_address)


class _FromEnv(str):
    """A value read from the environment, where every value is text."""


def _lookup(
    raw: Mapping[str, Any],
    section: str,
    key: str,
    environ: Mapping[str, str],
    kind: str,
) -> Any:
    env = env_name(section, key)
    if env in environ:
        text = environ[env]
        if kind == "networks":
            return [p.strip() for p in text.split(",") if p.strip()]
        return _FromEnv(text)
    table = raw.get(section)
    if isinstance(table, dict):
        return table.get(key)
    return None


def _refuse_unknown_environment(environ: Mapping[str, str]) -> None:
    """A misspelt AFINITWIN_<SECTION>_<KEY> would be ignored silently; refuse it."""
    known = {env_name(section, key) for section, key, _, _ in SPEC}
    known |= {env_name("rate_limits", e) for e in ENDPOINTS}
    known |= {env_name("rate_limits.per_address", e) for e in ENDPOINTS}
    prefixes = {env_name(section, "") for section, _, _, _ in SPEC}
    for name in environ:
        if name not in known and any(name.startswith(p) for p in prefixes):
            raise ConfigError(f"unknown setting in the environment: {name}")


def _refuse_unknown(raw: Mapping[str, Any]) -> None:
    known: dict[str, set[str]] = {}
    for section, key, _, _ in SPEC:
        known.setdefault(section, set()).add(key)
    known["rate_limits"] |= set(ENDPOINTS) | {"per_address"}
    for section, table in raw.items():
        if section not in known:
            raise ConfigError(f"unknown section [{section}] in the configuration")
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table")
        for key in table:
            if key not in known[section]:
                raise ConfigError(f"unknown setting {section}.{key}")
    per_address = raw.get("rate_limits", {}).get("per_address", {})
    if not isinstance(per_address, dict):
        raise ConfigError("[rate_limits.per_address] must be a table")
    for key in per_address:
        if key not in ENDPOINTS:
            raise ConfigError(f"unknown setting rate_limits.per_address.{key}")


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, _FromEnv):
        try:
            value = int(value.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _convert(name: str, kind: str, value: Any, base: Path) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string")
        return str(value)
    if kind == "url":
        if not isinstance(value, str) or not (
            value == "" or re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value)
        ):
            raise ConfigError(
                f"{name} must be empty or an http(s) URL such as"
                f" https://twin.example.com, not {str(value)!r}"
            )
        return str(value)
    if kind == "port":
        return _int(name, value, 0, 65535)
    if kind == "threads":
        return _int(name, value, 1, 256)
    if kind == "timeout":
        return _int(name, value, 0, 600_000)
    if kind == "positive":
        return _int(name, value, 1, 10_000_000)
    if kind == "quota":
        return _int(name, value, quota.MIN_MONTHLY, quota.MAX_MONTHLY)
    if kind == "path":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{name} must be a non-empty path")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path).resolve()
    if kind == "networks":
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise ConfigError(f"{name} must be a list of addresses or CIDR networks")
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{name}: {item!r} is not an address or CIDR network"
                ) from None
        return tuple(value)
    if kind == "level":
        if value not in LOG_LEVELS:
            raise ConfigError(
                f"{name} must be one of {', '.join(LOG_LEVELS)}, not {value!r}"
            )
        return value
    if kind == "format":
        if value not in LOG_FORMATS:
            raise ConfigError(
                f"{name} must be one of {', '.join(LOG_FORMATS)}, not {value!r}"
            )
        return value
    raise AssertionError(kind)
