"""Life facts and annotations: validating a batch for the owner's review queue.

Integrators propose; the owner decides. A batch is validated whole, because a
half-accepted batch would leave the integrator guessing which items to resend:
one bad item refuses all, and every bad item is named by index and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import errors

MAX_ITEMS = 50
MAX_BODY_BYTES = 64 * 1024
CATEGORIES = (
    "professional",
    "family",
    "partner",
    "hobbies",
    "health",
    "environment",
    "decisions",
    "conflict",
    "exploration",
    "recalibration",
    "general",
)
VALENCES = ("positive", "negative", "aspirational", "ambiguous")


@dataclass(frozen=True)
class Kind:
    name: str  # stored kind
    field: str  # the batch's list field in the body
    rules: dict[str, tuple[Any, ...]]


def _text(low: int, high: int) -> tuple[Any, ...]:
    return ("text", low, high)


LIFE_FACT = Kind(
    "life_fact",
    "facts",
    {
        "category": ("enum", CATEGORIES),
        "value": _text(3, 1000),
        "valence": ("enum", VALENCES),
        "consent": ("consent",),
        "externalRef": _text(1, 200),
        "confidence": ("unit",),
    },
)
ANNOTATION = Kind(
    "annotation",
    "annotations",
    {
        "tag": _text(2, 60),
        "text": _text(3, 2000),
        "consent": ("consent",),
        "externalRef": _text(1, 200),
    },
)
REQUIRED = {
    "life_fact": ("category", "value", "consent"),
    "annotation": ("tag", "text", "consent"),
}
DEFAULTS = {"life_fact": {"valence": "positive"}, "annotation": {}}


def validate_batch(kind: Kind, body: Any) -> list[dict[str, Any]]:
    """The batch's items with defaults applied; InvalidBody naming every problem."""
    if not isinstance(body, dict) or set(body) != {kind.field}:
        raise errors.InvalidBody(
            f"The body must be an object with one field, {kind.field}.",
            details={"expected": kind.field},
        )
    items = body[kind.field]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise errors.InvalidBody(
            f"{kind.field} must be a list of 1 to {MAX_ITEMS} items.",
            details={"field": kind.field},
        )
    problems: list[dict[str, Any]] = []
    clean: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(
                {"index": index, "field": None, "problem": "must be an object"}
            )
            continue
        for name in REQUIRED[kind.name]:
            if name not in item:
                problems.append(
                    {"index": index, "field": name, "problem": "is required"}
                )
        for name, value in item.items():
            rule = kind.rules.get(name)
            problem = "is not a known field" if rule is None else _check(rule, value)
            if problem:
                problems.append({"index": index, "field": name, "problem": problem})
        clean.append({**DEFAULTS[kind.name], **item})
    if problems:
        count = len({p["index"] for p in problems})
        raise errors.InvalidBody(
            f"{count} of {len(items)} items are invalid; nothing was accepted.",
            details={"items": problems},
        )
    return clean


def _check(rule: tuple[Any, ...], value: Any) -> str | None:
    kind = rule[0]
    if kind == "enum":
        return None if value in rule[1] else "must be one of " + ", ".join(rule[1])
    if kind == "text":
        low, high = rule[1], rule[2]
        if not isinstance(value, str):
            return "must be a string"
        length = len(value.strip())
        return None if low <= length <= high else f"must be {low} to {high} characters"
    if kind == "consent":
        return None if value is True else "must be true"
    if kind == "unit":
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0 <= value <= 1
        )
        return None if ok else "must be a number from 0 to 1"
    raise AssertionError(kind)
