"""The phrase catalogs the renderer writes prompts with, one per language.

Every word the appliance itself puts into a prompt (headings, labels,
instructions, trait descriptions, enum values) lives in
`translations/<lang>.json`, never in code, so that a translator can review one
language as one file and so that no sentence of one language can slip into a
rendering in another. The six catalogs must hold exactly the same keys; that
is checked once, at import, because a missing key would otherwise surface as
a failed request long after start-up.

Templates use `str.format` fields (`{name}`). Only the template is parsed, so
a value that contains braces, such as a snapshot's free text, is inserted as
it is.
"""

from __future__ import annotations

import json
from importlib import resources
from types import MappingProxyType
from typing import Mapping

LANGS = ("es", "en", "fr", "de", "it", "pt")


def _load() -> Mapping[str, Mapping[str, str]]:
    folder = resources.files("afinitwin_appliance") / "translations"
    catalogs = {
        lang: json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGS
    }

    reference = set(catalogs["en"])
    for lang, catalog in catalogs.items():
        if set(catalog) != reference:
            missing = sorted(reference - set(catalog))
            extra = sorted(set(catalog) - reference)
            raise RuntimeError(
                f"translations/{lang}.json differs from en.json: "
                f"missing {missing}, extra {extra}"
            )

    return MappingProxyType(
        {lang: MappingProxyType(catalog) for lang, catalog in catalogs.items()}
    )


CATALOGS: Mapping[str, Mapping[str, str]] = _load()


def has(key: str) -> bool:
    """Tell whether the catalogs define `key` (they all define the same keys)."""
    return key in CATALOGS["en"]


def phrase(lang: str, key: str, **fields: str) -> str:
    """Return the phrase `key` in `lang`, with its `{fields}` filled in."""
    template = CATALOGS[lang][key]
    return template.format_map(fields) if fields else template
