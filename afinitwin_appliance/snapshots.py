"""The snapshot document: parsing, validation and normalisation (contract §8).

Pure domain code: bytes in, plain dicts and problem strings out. No Bottle, no
SQL, no file access; the caller reads the file and passes its bytes.

Design choices, and why:

- The schema is a small table of checks (`_TOP` and the records it names), not
  a hand-written function per field, so the rules read like section 8 and every
  problem is collected instead of stopping at the first: import is all or
  nothing, and an admin fixing a file wants the whole list at once. Problems
  come in schema order (the order of section 8), with unknown keys after the
  known fields of the same object, so the list is the same on every run.
- YAML is read with a subclass of PyYAML's `SafeLoader`, never the full
  loader. Plain `yaml.safe_load` is not enough: it would let an alias bomb
  through (the expansion happens later, in whoever walks the result), keep the
  last of two duplicate keys silently, and crash on `2026-13-01` before
  validation could name the field. The subclass refuses aliases, reports
  duplicate keys, and keeps YAML timestamps as the text written, so a YAML
  file and its JSON twin load to the very same dict and an impossible date is
  reported as a validation problem with its path.
- Extension keys (`x-…`) are accepted in records, the objects whose field
  names the contract fixes. They are not accepted in data maps (facets, text
  maps, `lengthByContext`, `languageByDomain`), where every key is data that
  renderers iterate over. Their values must be plain JSON values so that the
  normalised document always serialises.
- A text map must hold the primary language: the renderer falls back to the
  primary language when the requested one is missing, so a text without it
  could leave a section empty.
- An unquoted YAML version such as `3.4` (a float) is refused with a hint to
  quote it, because YAML has already lost information (`3.10` reads as 3.1).
- Every string the schema asks for must be non-empty after trimming spaces.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

from .errors import SnapshotInvalid

SCHEMA = "afinitwin.snapshot/v1"
LANGS = ("es", "en", "fr", "de", "it", "pt")
STATUSES = ("ready", "generating", "failed")
SOURCES = ("purchase", "plan_included", "import")

DOMAINS = (
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
)
FACETS: dict[str, tuple[str, ...]] = {
    "openness": (
        "imagination",
        "artisticInterests",
        "emotionality",
        "adventurousness",
        "intellect",
        "liberalism",
    ),
    "conscientiousness": (
        "selfEfficacy",
        "orderliness",
        "dutifulness",
        "achievementStriving",
        "selfDiscipline",
        "cautiousness",
    ),
    "extraversion": (
        "friendliness",
        "gregariousness",
        "assertiveness",
        "activityLevel",
        "excitementSeeking",
        "cheerfulness",
    ),
    "agreeableness": (
        "trust",
        "morality",
        "altruism",
        "cooperation",
        "modesty",
        "sympathy",
    ),
    "neuroticism": (
        "anxiety",
        "anger",
        "depression",
        "selfConsciousness",
        "immoderation",
        "vulnerability",
    ),
}
SCHWARTZ_VALUES = (
    "selfDirection",
    "stimulation",
    "hedonism",
    "achievement",
    "power",
    "security",
    "conformity",
    "tradition",
    "benevolence",
    "universalism",
)
ATTACHMENT_STYLES = ("secure", "anxious", "avoidant", "fearful")
HUMOUR_STYLES = ("affiliative", "selfEnhancing", "aggressive", "selfDefeating")
TIME_ORIENTATIONS = (
    "pastNegative",
    "pastPositive",
    "presentHedonistic",
    "presentFatalistic",
    "future",
)
NEGATIVE_SPACE_LISTS = ("taboos", "petPeeves", "dislikedPhrases", "antimodels")
SEVERITIES = ("low", "medium", "high")
LENGTHS = ("concise", "medium", "detailed")
TOLERANCES = ("low", "medium", "high")
ASSERTIVENESS = ("reserved", "balanced", "assertive")
CITATION_STYLES = ("inline", "footnote", "apa", "mla", "none")
CHRONOTYPES = ("morning", "intermediate", "evening")

MAX_BYTES = 2 * 1024 * 1024
# A snapshot is about five levels deep; the margin is for x- extensions. The
# cap keeps every later walk (validation, json.dumps) far from the recursion
# limit whatever the file holds.
MAX_DEPTH = 64

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[Tt ].*", re.DOTALL)
_MERGE_TAG = "tag:yaml.org,2002:merge"


# --- Parsing ---------------------------------------------------------------


def parse_document(data: bytes, filename: str | None = None) -> dict:
    """Read a snapshot document from JSON or YAML bytes; no validation yet.

    The format follows the extension (.json, .yaml, .yml); otherwise JSON is
    tried first, then YAML. Every failure is a SnapshotInvalid.
    """
    text = _decode(data)
    if not text.strip():
        raise SnapshotInvalid(["the document is empty"])

    suffix = PurePath(filename).suffix.lower() if filename else ""
    if suffix == ".json":
        doc = _parse_json(text)
    elif suffix in (".yaml", ".yml"):
        doc = _parse_yaml(text)
    else:
        doc = _sniff(text)

    _check_top_level(doc)
    _check_depth(doc)
    return doc


def _decode(data: bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise SnapshotInvalid(
            [f"the document is {len(data)} bytes; the limit is 2 MiB ({MAX_BYTES})"]
        )
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotInvalid(
            [f"the document is not UTF-8 text (invalid byte at offset {exc.start})"]
        ) from None
    # Editors on Windows like to start UTF-8 files with a byte order mark.
    return text.removeprefix("\ufeff")


class _SyntaxInvalid(SnapshotInvalid):
    """The text is not in the format tried, as opposed to a bad document in it."""


def _sniff(text: str) -> Any:
    try:
        return _parse_json(text)
    except _SyntaxInvalid as json_error:
        try:
            return _parse_yaml(text)
        except SnapshotInvalid as yaml_error:
            # Report the error of the format the author most likely meant.
            if text.lstrip()[:1] in ("{", "["):
                raise json_error from None
            raise yaml_error from None


def _parse_json(text: str) -> Any:
    duplicates: list[str] = []

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append(f"duplicate key {key!r} in a JSON object")
            result[key] = value
        return result

    try:
        doc = json.loads(text, object_pairs_hook=pairs_to_dict)
    except json.JSONDecodeError as exc:
        raise _SyntaxInvalid(
            [f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from None
    except ValueError as exc:
        # Python's own limits, such as integers of more than 4300 digits.
        raise _SyntaxInvalid([f"not valid JSON: {_one_line(str(exc))}"]) from None
    except RecursionError:
        raise SnapshotInvalid([_too_deep()]) from None
    if duplicates:
        raise SnapshotInvalid(duplicates)
    return doc


class _SnapshotLoader(yaml.SafeLoader):
    """The safe loader, minus aliases, plus duplicate-key reports."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Refusing every alias is simpler and safer than bounding expansion:
        # a snapshot has no use for them, and a billion-laughs file then costs
        # one event instead of a billion nodes in whoever walks the result.
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "YAML aliases (*name) are not accepted in a snapshot",
                self.peek_event().start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.tag == _MERGE_TAG:
                continue
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                where = _where(key_node.start_mark)
                self.duplicates.append(f"duplicate key {key_node.value!r} at {where}")
            seen.add(ident)
        return super().construct_mapping(node, deep)


# Keep YAML 1.1 timestamps as the text written (see the module docstring).
_SnapshotLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _SnapshotLoader.construct_yaml_str
)


def _parse_yaml(text: str) -> Any:
    # Limitation: the pure-Python loader reads about 250 KiB a second, so a
    # YAML file near the 2 MiB cap takes several seconds to import. libyaml's
    # C loader would be faster but crashes the process (a C stack overflow,
    # not an exception) on deeply nested input.
    loader = None
    try:
        # The reader already checks for control characters while it is built.
        loader = _SnapshotLoader(text)
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        where = f" at {_where(mark)}" if mark else ""
        raise SnapshotInvalid([f"not valid YAML{where}: {problem}"]) from None
    except (yaml.YAMLError, ValueError) as exc:
        # Reader errors (control characters) carry a position, not a mark;
        # constructors raise ValueError for "!!int abc" or a 5000-digit integer.
        raise SnapshotInvalid([f"not valid YAML: {_one_line(str(exc))}"]) from None
    except RecursionError:
        raise SnapshotInvalid([_too_deep()]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.duplicates:
        raise SnapshotInvalid(loader.duplicates)
    return doc


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _too_deep() -> str:
    return f"the document is nested more than {MAX_DEPTH} levels deep"


def _check_top_level(doc: Any) -> None:
    if doc is None:
        raise SnapshotInvalid(["the document is empty"])
    if not isinstance(doc, dict):
        raise SnapshotInvalid(
            [f"the document must be an object at the top level, not {_kind(doc)}"]
        )


def _check_depth(doc: Any) -> None:
    # Iterative, so that the check itself cannot hit the recursion limit.
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SnapshotInvalid([_too_deep()])
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


# --- Validation ------------------------------------------------------------


@dataclass
class _Report:
    """What one walk over a document found: problems, and the text maps."""

    primary: str | None
    problems: list[str] = field(default_factory=list)
    text_maps: list[dict] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path or 'document'}: {message}")


Check = Callable[[Any, str, _Report], None]


@dataclass(frozen=True)
class _Field:
    name: str
    check: Check
    required: bool = False


def validate(doc: dict) -> list[str]:
    """Return every problem of the document as "path: message"; [] if valid."""
    return _walk(doc).problems


def _walk(doc: Any) -> _Report:
    primary = doc.get("primaryLanguage") if isinstance(doc, dict) else None
    report = _Report(primary=primary if primary in LANGS else None)
    _TOP(doc, "", report)
    return report


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, datetime.date):
        return "a date"
    return f"a {type(value).__name__}"


def _wrong_type(expected: str, value: Any) -> str:
    message = f"must be {expected}, not {_kind(value)}"
    if expected == "a string" and isinstance(value, (bool, int, float)):
        # YAML reads an unquoted 3.4, 2026 or yes as a number or a boolean.
        message += " (in YAML, put it in quotes)"
    return message


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, str):
        report.add(path, _wrong_type("a string", value))
    elif not value.strip():
        report.add(path, "must not be empty")


def _score(value: Any, path: str, report: _Report) -> None:
    if not _is_number(value):
        report.add(path, _wrong_type("a number", value))
    elif not (math.isfinite(value) and 0 <= value <= 100):
        report.add(path, "must be 0–100")


def _enum(allowed: tuple[str, ...]) -> Check:
    message = f"must be one of {', '.join(allowed)}"

    def check(value: Any, path: str, report: _Report) -> None:
        if not isinstance(value, str) or value not in allowed:
            report.add(path, message)

    return check


def _const(expected: str) -> Check:
    def check(value: Any, path: str, report: _Report) -> None:
        if value != expected:
            report.add(path, f"must be {expected}")

    return check


def _snapshot_id(value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, str):
        report.add(path, _wrong_type("a string", value))
    elif not _ID_RE.fullmatch(value):
        report.add(path, "must be 1–64 characters among A–Z, a–z, 0–9, _ and -")


def _date(value: Any, path: str, report: _Report) -> None:
    # datetime is a subclass of date, so it must be ruled out first.
    if isinstance(value, datetime.datetime):
        report.add(path, "must be a date without a time of day (YYYY-MM-DD)")
    elif isinstance(value, datetime.date):
        return
    elif not isinstance(value, str):
        report.add(path, _wrong_type("a date (YYYY-MM-DD)", value))
    elif _DATE_TIME_RE.fullmatch(value):
        report.add(path, "must be a date without a time of day (YYYY-MM-DD)")
    elif not (_DATE_RE.fullmatch(value) and _real_date(value)):
        report.add(path, "must be a real calendar date in the form YYYY-MM-DD")


def _real_date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _version(value: Any, path: str, report: _Report) -> None:
    if _is_number(value):
        report.add(path, 'must be a string; in YAML write it in quotes, e.g. "3.4"')
    else:
        _string(value, path, report)


_TEXT = "a text (a string, or an object from language code to string)"


def _text(value: Any, path: str, report: _Report) -> None:
    if isinstance(value, str):
        _string(value, path, report)
        return
    if not isinstance(value, dict):
        report.add(path, _wrong_type(_TEXT, value))
        return
    if not value:
        report.add(path, "must not be empty")
        return

    report.text_maps.append(value)
    for lang, item in value.items():
        sub = _join(path, lang)
        if lang not in LANGS:
            report.add(sub, f"unknown language; use one of {', '.join(LANGS)}")
        else:
            _string(item, sub, report)

    if report.primary and report.primary not in value:
        report.add(path, f"has no text in the primary language {report.primary}")


def _json_value(value: Any, path: str, report: _Report) -> None:
    """Accept only what JSON can hold, so normalize() always serialises."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            report.add(path, "must be a finite number")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _json_value(item, f"{path}[{index}]", report)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _json_value(item, _join(path, key), report)
            else:
                report.add(_join(path, key), "the key must be a string")
    else:
        report.add(path, f"must be a JSON value, not {_kind(value)}")


def _record(*fields: _Field) -> Check:
    """An object with named fields; x- keys allowed, other keys refused."""
    names = {f.name for f in fields}

    def check(value: Any, path: str, report: _Report) -> None:
        if not isinstance(value, dict):
            report.add(path, _wrong_type("an object", value))
            return

        for f in fields:
            if f.name in value:
                f.check(value[f.name], _join(path, f.name), report)
            elif f.required:
                report.add(_join(path, f.name), "is required")

        for key, item in value.items():
            if key in names:
                continue
            if isinstance(key, str) and key.startswith("x-"):
                _json_value(item, _join(path, key), report)
            else:
                report.add(_join(path, key), "unknown key")

    return check


def _list_of(item_check: Check) -> Check:
    def check(value: Any, path: str, report: _Report) -> None:
        if not isinstance(value, list):
            report.add(path, _wrong_type("a list", value))
            return
        for index, item in enumerate(value):
            item_check(item, f"{path}[{index}]", report)

    return check


def _map_of(value_check: Check) -> Check:
    """A data map with free keys (a context, a domain) and checked values."""

    def check(value: Any, path: str, report: _Report) -> None:
        if not isinstance(value, dict):
            report.add(path, _wrong_type("an object", value))
            return
        for key, item in value.items():
            if not isinstance(key, str):
                report.add(_join(path, key), "the key must be a string")
            elif not key.strip():
                report.add(path, "a key must not be empty")
            else:
                value_check(item, _join(path, key), report)

    return check


def _facets(domain: str) -> Check:
    allowed = FACETS[domain]
    message = f"is not a facet of {domain}; use one of {', '.join(allowed)}"

    def check(value: Any, path: str, report: _Report) -> None:
        if not isinstance(value, dict):
            report.add(path, _wrong_type("an object", value))
            return
        for name, score in value.items():
            if name in allowed:
                _score(score, _join(path, name), report)
            else:
                report.add(_join(path, name), message)

    return check


def _top_values(value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, list):
        report.add(path, _wrong_type("a list", value))
        return
    if not 1 <= len(value) <= 3:
        report.add(path, "must list 1–3 Schwartz values")

    seen: set[str] = set()
    for index, item in enumerate(value):
        sub = f"{path}[{index}]"
        if not isinstance(item, str) or item not in SCHWARTZ_VALUES:
            report.add(sub, f"must be one of {', '.join(SCHWARTZ_VALUES)}")
        elif item in seen:
            report.add(sub, f"repeats {item}")
        else:
            seen.add(item)


_NARRATIVE = _record(
    _Field("id", _string, required=True),
    _Field("title", _text, required=True),
    _Field("text", _text, required=True),
)


def _narratives(value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, list):
        report.add(path, _wrong_type("a list", value))
        return

    # Ids must be unique so that a rendering can name each narrative.
    seen: set[str] = set()
    for index, item in enumerate(value):
        sub = f"{path}[{index}]"
        _NARRATIVE(item, sub, report)
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str) and ident.strip():
            if ident in seen:
                report.add(f"{sub}.id", f"repeats the id {ident!r} of an earlier one")
            seen.add(ident)


_WITH_TEXT = _record(_Field("text", _text, required=True))

_AESTHETIC_CANON = _record(
    _Field(
        "items",
        _list_of(
            _record(
                _Field("work", _string, required=True),
                _Field("author", _string),
                _Field("note", _text),
            )
        ),
        required=True,
    )
)

_NEGATIVE_ITEM = _record(
    _Field("text", _text, required=True),
    _Field("severity", _enum(SEVERITIES), required=True),
)
_NEGATIVE_SPACE = _record(
    *(_Field(name, _list_of(_NEGATIVE_ITEM)) for name in NEGATIVE_SPACE_LISTS)
)

_META_PREFERENCES = _record(
    _Field("lengthByContext", _map_of(_enum(LENGTHS))),
    _Field("languageByDomain", _map_of(_enum(LANGS))),
    _Field("contradictionTolerance", _enum(TOLERANCES)),
    _Field("opinionAssertiveness", _enum(ASSERTIVENESS)),
    _Field("citationStyle", _enum(CITATION_STYLES)),
    _Field("programmingLanguage", _string),
)

_LAYERS = _record(
    _Field("aestheticCanon", _AESTHETIC_CANON),
    _Field("negativeSpace", _NEGATIVE_SPACE),
    _Field("metaPreferences", _META_PREFERENCES),
    _Field("mentalFrame", _WITH_TEXT),
    _Field(
        "operationalEquipment",
        _record(_Field("items", _list_of(_string)), _Field("text", _text)),
    ),
    _Field("lifeContext", _WITH_TEXT),
    _Field(
        "rhythms",
        _record(_Field("chronotype", _enum(CHRONOTYPES)), _Field("text", _text)),
    ),
    _Field("trajectory", _WITH_TEXT),
)

_ASSESSMENTS = _record(
    _Field("values", _record(_Field("top", _top_values, required=True))),
    _Field(
        "attachment",
        _record(_Field("style", _enum(ATTACHMENT_STYLES), required=True)),
    ),
    _Field("humour", _record(_Field("style", _enum(HUMOUR_STYLES), required=True))),
    _Field(
        "timeOrientation",
        _record(_Field("dominant", _enum(TIME_ORIENTATIONS), required=True)),
    ),
)


def _domain(name: str) -> _Field:
    scores = _record(
        _Field("percentile", _score, required=True),
        _Field("facets", _facets(name)),
    )
    return _Field(name, scores, required=True)


_BIG_FIVE = _record(
    _Field("instrument", _string, required=True),
    _Field("domains", _record(*map(_domain, DOMAINS)), required=True),
)

_TOP = _record(
    _Field("schema", _const(SCHEMA), required=True),
    _Field("id", _snapshot_id),
    _Field("snapshotDate", _date, required=True),
    _Field("version", _version, required=True),
    _Field("source", _enum(SOURCES), required=True),
    _Field("status", _enum(STATUSES)),
    _Field("primaryLanguage", _enum(LANGS), required=True),
    _Field(
        "person",
        _record(
            _Field("displayName", _string, required=True),
            _Field("pronouns", _string),
        ),
        required=True,
    ),
    _Field("bigFive", _BIG_FIVE, required=True),
    _Field("assessments", _ASSESSMENTS),
    _Field("layers", _LAYERS),
    _Field("portrait", _text, required=True),
    _Field("narratives", _narratives),
)


# --- Normalisation and derived fields --------------------------------------


def normalize(doc: dict) -> dict:
    """Return a JSON-ready copy of a valid document; the input is not changed.

    snapshotDate becomes "YYYY-MM-DD" and status defaults to "ready"; all else,
    x- keys included, is kept as given. An invalid document is refused.
    """
    problems = validate(doc)
    if problems:
        raise SnapshotInvalid(problems)

    result = copy.deepcopy(doc)
    date = result["snapshotDate"]
    if isinstance(date, datetime.date):
        result["snapshotDate"] = date.isoformat()
    result.setdefault("status", "ready")
    return result


def load(data: bytes, filename: str | None = None) -> dict:
    """Parse, validate and normalise a document; SnapshotInvalid if anything fails."""
    return normalize(parse_document(data, filename))


def canonical_json(doc: dict) -> str:
    """Serialise a normalised document the same way every time.

    Two documents are the same snapshot exactly when these strings are equal,
    whatever their key order, format (YAML or JSON) or whitespace was.
    """
    return json.dumps(
        doc,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def content_languages(doc: dict) -> list[str]:
    """The languages the snapshot holds: the primary first, then LANGS order."""
    primary = doc.get("primaryLanguage")
    found = {lang for text in _walk(doc).text_maps for lang in text if lang in LANGS}
    return [primary, *(lang for lang in LANGS if lang in found and lang != primary)]


def summary_fields(doc: dict) -> dict:
    """The snapshot summary fields that come from the document itself."""
    date = doc["snapshotDate"]
    return {
        "snapshotDate": date.isoformat() if isinstance(date, datetime.date) else date,
        "version": doc["version"],
        "source": doc["source"],
        "status": doc.get("status", "ready"),
        "primaryLanguage": doc["primaryLanguage"],
        "languages": content_languages(doc),
        "hasNarratives": bool(doc.get("narratives")),
    }
