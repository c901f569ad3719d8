"""Rendering of presets (contract section 7), tested on the sample snapshots.

Golden files: tests/golden/ holds exact renderings. After an intended change
to the wording or the layout, regenerate them with

    UPDATE_GOLDEN=1 python -m pytest tests/test_presets.py -k golden

and review the diff before committing it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path

import pytest
import yaml

from afinitwin_appliance import presets, snapshots, translations
from afinitwin_appliance.presets import (
    CONTENT_TYPES,
    FORMATS,
    LANGS,
    PRESETS,
    VARIANTS,
    Rendering,
)
from conftest import SNAPSHOTS

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
DEMO = HERE.parent / "afinitwin_appliance" / "demo" / "demo-snapshot.yaml"

ARTIFACT_KEYS = [
    "preset",
    "snapshotId",
    "snapshotDate",
    "lang",
    "contentLanguages",
    "variant",
    "includeNarratives",
    "systemPrompt",
    "sections",
    "approxTokens",
]
ALL_SECTIONS = [
    "instructions",
    "metaPreferences",
    "negativeSpace",
    "portrait",
    "bigFive",
    "assessments",
    "aestheticCanon",
    "mentalFrame",
    "operationalEquipment",
    "lifeContext",
    "rhythms",
    "trajectory",
    "narratives",
]


def load_snapshot(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        doc = json.load(handle) if path.suffix == ".json" else yaml.safe_load(handle)
    # What the validator hands the renderer: a date string and a status.
    doc["snapshotDate"] = str(doc["snapshotDate"])
    doc.setdefault("status", "ready")
    return doc


@pytest.fixture
def lucia() -> dict:
    return load_snapshot(SNAPSHOTS / "lucia-ortega.yaml")


@pytest.fixture
def tom() -> dict:
    return load_snapshot(SNAPSHOTS / "tom-whitfield.json")


@pytest.fixture
def demo() -> dict:
    return load_snapshot(DEMO)


def render(
    doc: dict,
    *,
    preset: str = "estandar",
    fmt: str = "md",
    lang: str | None = None,
    variant: str = "generic",
    include_narratives: bool = False,
) -> Rendering:
    return presets.render(
        doc,
        snapshot_id=doc.get("id", "snp_test"),
        preset=preset,
        fmt=fmt,
        lang=lang,
        variant=variant,
        include_narratives=include_narratives,
    )


def text(doc: dict, **query) -> str:
    return render(doc, **query).body.decode("utf-8")


def foreign_phrases(lang: str) -> set[str]:
    """Template text of other languages that must never appear in `lang`.

    For every key whose phrase differs between two languages, each literal
    fragment (the text between `{fields}`) longer than 12 characters, folded
    to lower case because generic headings are in capitals.
    """
    found = set()
    own_catalog = translations.CATALOGS[lang]
    for other in LANGS:
        if other == lang:
            continue
        for key, phrase in translations.CATALOGS[other].items():
            own = own_catalog[key]
            if phrase == own:
                continue
            for fragment in re.split(r"\{\w+\}", phrase):
                fragment = fragment.strip().casefold()
                if len(fragment) > 12 and fragment not in own.casefold():
                    found.add(fragment)
    return found


FOREIGN = {lang: foreign_phrases(lang) for lang in LANGS}


# --- Golden renderings -------------------------------------------------------

GOLDEN_CASES = [
    ("lucia-ortega.yaml", "estandar", "md", lang, variant, False)
    for lang in ("en", "de")
    for variant in VARIANTS
] + [
    ("lucia-ortega.yaml", "compacto", "md", "en", "gpt", False),
    ("lucia-ortega.yaml", "estandar", "txt", "fr", "claude", True),
    ("tom-whitfield.json", "compacto", "md", "es", "gemini", False),
]


@pytest.mark.parametrize("name,preset,fmt,lang,variant,narratives", GOLDEN_CASES)
def test_golden_rendering_is_byte_identical(
    name, preset, fmt, lang, variant, narratives
):
    doc = load_snapshot(SNAPSHOTS / name)
    body = render(
        doc,
        preset=preset,
        fmt=fmt,
        lang=lang,
        variant=variant,
        include_narratives=narratives,
    ).body
    stem = name.rsplit(".", 1)[0]
    suffix = ".narratives" if narratives else ""
    golden = GOLDEN / f"{stem}.{preset}.{lang}.{variant}{suffix}.{fmt}"

    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(body)
    assert body == golden.read_bytes()


# --- Every combination -------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_combination_renders_parses_and_holds_no_foreign_template(
    lucia, lang, variant
):
    for preset in PRESETS:
        for narratives in (False, True):
            query = dict(
                preset=preset,
                lang=lang,
                variant=variant,
                include_narratives=narratives,
            )
            renderings = {fmt: render(lucia, fmt=fmt, **query) for fmt in FORMATS}
            markdown = renderings["md"].body.decode("utf-8")

            for fmt, rendering in renderings.items():
                body = rendering.body.decode("utf-8")
                assert rendering.content_type == CONTENT_TYPES[fmt]
                assert re.fullmatch(r'"[0-9a-f]{32}"', rendering.etag)
                assert rendering.content_languages[0] == lang
                leaked = [p for p in FOREIGN[lang] if p in body.casefold()]
                assert leaked == [], (fmt, query)

            for fmt in ("md", "txt"):
                body = renderings[fmt].body.decode("utf-8")
                assert body.endswith("\n") and not body.endswith("\n\n")

            artifact = json.loads(renderings["json"].body)
            assert list(artifact) == ARTIFACT_KEYS
            assert artifact["systemPrompt"] == markdown
            assert artifact["preset"] == preset
            assert artifact["snapshotId"] == "snp_lucia_2026_11"
            assert artifact["snapshotDate"] == "2026-11-01"
            assert artifact["lang"] == lang
            assert artifact["variant"] == variant
            assert artifact["includeNarratives"] is narratives
            assert artifact["contentLanguages"] == list(
                renderings["md"].content_languages
            )
            assert artifact["approxTokens"] == math.ceil(len(markdown) / 4)
            for section in artifact["sections"]:
                assert section["text"] in markdown
                assert list(section) == ["id", "title", "text"]
            assert yaml.safe_load(renderings["yaml"].body) == artifact


def test_default_language_is_the_primary_language(lucia, tom):
    assert render(lucia, lang=None).body == render(lucia, lang="es").body
    assert render(tom, lang=None).content_languages == ("en",)


def test_same_query_gives_the_same_bytes_and_etag(lucia):
    first = render(lucia, fmt="json", variant="claude", include_narratives=True)
    again = render(
        copy.deepcopy(lucia), fmt="json", variant="claude", include_narratives=True
    )
    assert first == again


def test_etag_is_the_quoted_sha256_prefix_of_the_body(lucia):
    import hashlib

    rendering = render(lucia, fmt="txt")
    digest = hashlib.sha256(rendering.body).hexdigest()[:32]
    assert rendering.etag == f'"{digest}"'


@pytest.mark.parametrize(
    "query",
    [
        {"preset": "completo"},
        {"fmt": "html"},
        {"lang": "ca"},
        {"variant": "llama"},
    ],
)
def test_unknown_parameter_values_are_refused(lucia, query):
    with pytest.raises(ValueError):
        render(lucia, **query)


def test_content_types_match_the_contract():
    assert CONTENT_TYPES == {
        "json": "application/json; charset=utf-8",
        "yaml": "application/yaml; charset=utf-8",
        "md": "text/markdown; charset=utf-8",
        "txt": "text/plain; charset=utf-8",
    }
    assert PRESETS == ("estandar", "compacto")
    assert LANGS == ("es", "en", "fr", "de", "it", "pt")
    assert VARIANTS == ("claude", "gpt", "gemini", "generic")


# --- Presets -----------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_compacto_is_at_most_a_third_of_estandar(lucia, tom, demo, lang, variant):
    cases = [(lucia, False), (lucia, True), (tom, False), (demo, False), (demo, True)]
    for doc, narratives in cases:
        for fmt in ("md", "txt"):
            query = dict(
                fmt=fmt, lang=lang, variant=variant, include_narratives=narratives
            )
            full = render(doc, preset="estandar", **query).body
            short = render(doc, preset="compacto", **query).body
            assert 3 * len(short) <= len(full), (doc["id"], narratives, fmt)
            assert 3 * len(short.decode()) <= len(full.decode())


def test_compacto_keeps_traits_preferences_and_high_severity_items_only(lucia):
    artifact = json.loads(
        render(lucia, preset="compacto", fmt="json", lang="en", variant="gpt").body
    )
    assert [s["id"] for s in artifact["sections"]] == [
        "metaPreferences",
        "negativeSpace",
        "bigFive",
    ]
    assert artifact["sections"][1]["text"] == (
        "Never (high severity):\n"
        "- Taboo: Do not comment on her love life.\n"
        "- Disliked phrase: “¡Excelente pregunta!” (only available in Spanish)"
    )
    assert artifact["sections"][2]["text"].splitlines()[0] == (
        "- Openness to experience: percentile 91, high — curious and imaginative; "
        "drawn to ideas and the unconventional"
    )


def test_estandar_has_every_section_of_the_snapshot(lucia, tom):
    artifact = json.loads(
        render(lucia, fmt="json", variant="gpt", include_narratives=True).body
    )
    assert [s["id"] for s in artifact["sections"]] == ALL_SECTIONS

    artifact = json.loads(render(tom, fmt="json", variant="gpt").body)
    assert [s["id"] for s in artifact["sections"]] == [
        "instructions",
        "metaPreferences",
        "portrait",
        "bigFive",
    ]


def test_sections_present_lists_what_the_snapshot_has(lucia, tom, demo):
    assert presets.sections_present(lucia) == ALL_SECTIONS
    assert presets.sections_present(tom) == [
        "instructions",
        "metaPreferences",
        "portrait",
        "bigFive",
    ]
    assert presets.sections_present(demo) == ALL_SECTIONS


def test_big_five_domains_are_described_by_band(lucia):
    body = text(lucia, lang="en", variant="gpt")
    assert "### Openness to experience: percentile 91, high\n" in body
    assert "### Conscientiousness: percentile 38, moderate\n" in body
    assert "### Neuroticism: percentile 27, low\n" in body
    assert (
        "Facets (percentiles): imagination 88, artistic interests 79, "
        "emotionality 55, adventurousness 83, intellect 96, liberalism 71.\n"
    ) in body


# --- Languages ---------------------------------------------------------------


def test_missing_french_text_falls_back_to_spanish_with_a_note(lucia):
    rendering = render(lucia, lang="fr", variant="gpt")
    body = rendering.body.decode("utf-8")

    assert rendering.content_languages == ("fr", "es")
    assert "## Portrait\n\n(disponible uniquement en espagnol)\nLucía es una" in body
    assert "(disponible uniquement en espagnol)" in body
    assert "Vous parlez avec Lucía (pronoms : elle)." in body

    artifact = json.loads(render(lucia, lang="fr", fmt="json").body)
    assert artifact["contentLanguages"] == ["fr", "es"]


def test_text_in_the_requested_language_needs_no_note(lucia):
    rendering = render(lucia, lang="es")
    assert rendering.content_languages == ("es",)
    assert "disponible" not in rendering.body.decode("utf-8")


def test_english_rendering_names_the_spanish_only_texts(lucia):
    rendering = render(lucia, lang="en", variant="gpt", include_narratives=True)
    body = rendering.body.decode("utf-8")
    assert rendering.content_languages == ("en", "es")
    assert (
        "- Disliked phrase: “¡Excelente pregunta!” (only available in Spanish)\n"
        in (body)
    )
    assert "### Under pressure\n\n(only available in Spanish)\nBajo presión" in body
    assert "### How she works\n\nShe starts every project" in body


def test_german_rendering_of_an_english_snapshot_notes_english(tom):
    rendering = render(tom, lang="de", variant="gpt")
    body = rendering.body.decode("utf-8")
    assert rendering.content_languages == ("de", "en")
    assert "## Porträt\n\n(nur auf Englisch verfügbar)\nTom is a careful" in body


def test_pronouns_are_restated_in_the_requested_language(lucia):
    assert "Lucía (Pronomen: sie/ihr)" in text(lucia, lang="de")
    assert "Lucía (pronouns: she/her)" in text(lucia, lang="en")
    lucia["person"]["pronouns"] = "xe/xem"
    assert "Lucía (pronomi: xe/xem)" in text(lucia, lang="it")


CAMEL_CASE_IDS = sorted(
    {
        value
        for group in (
            snapshots.SCHWARTZ_VALUES,
            snapshots.HUMOUR_STYLES,
            snapshots.TIME_ORIENTATIONS,
            *snapshots.FACETS.values(),
            snapshots.NEGATIVE_SPACE_LISTS,
            ("lengthByContext", "languageByDomain", "contradictionTolerance"),
            ("opinionAssertiveness", "citationStyle", "programmingLanguage"),
        )
        for value in group
        if value != value.lower()
    }
)
RAW_WORDS = sorted(
    set(snapshots.LENGTHS)
    | set(snapshots.TOLERANCES)
    | set(snapshots.ASSERTIVENESS)
    | set(snapshots.CITATION_STYLES)
    | set(snapshots.CHRONOTYPES)
    | set(snapshots.ATTACHMENT_STYLES)
    | {v for v in snapshots.HUMOUR_STYLES + snapshots.SCHWARTZ_VALUES if v.islower()}
    | {"future", "default", "technical", "reasoning", "personal", "casual"}
)
# Raw values that are also the right word in a language.
NATIVE_WORDS = {"fr": {"concise", "tradition", "stimulation"}, "es": {"personal"}}


@pytest.mark.parametrize("lang", LANGS)
def test_enum_values_are_never_shown_as_raw_identifiers(lucia, demo, lang):
    for doc in (lucia, demo):
        for preset in PRESETS:
            body = text(doc, preset=preset, lang=lang, include_narratives=True)
            for ident in CAMEL_CASE_IDS:
                assert ident not in body
            if lang == "en":
                continue
            for word in RAW_WORDS:
                if word in NATIVE_WORDS.get(lang, ()):
                    continue
                assert not re.search(rf"(?<![\w-]){word}(?![\w-])", body), word


def test_unknown_context_names_are_shown_as_words(tom):
    tom["layers"]["metaPreferences"]["lengthByContext"] = {
        "default": "concise",
        "smallTalk": "detailed",
    }
    body = text(tom, lang="en")
    assert "Answer length — in general: concise; small talk: detailed." in body


# --- Variants and formats ----------------------------------------------------


def test_gpt_puts_instructions_first_and_gemini_last(lucia):
    def headings(variant: str) -> list[str]:
        body = text(lucia, lang="en", variant=variant, include_narratives=True)
        return re.findall(r"^## (.+)$", body, flags=re.MULTILINE)

    gpt, gemini = headings("gpt"), headings("gemini")
    assert gpt[0] == "How to respond"
    assert gemini[-1] == "How to respond"
    assert gpt[:3] == ["How to respond", "Communication preferences", "What to avoid"]
    assert gemini[-3:] == [
        "Communication preferences",
        "What to avoid",
        "How to respond",
    ]
    assert sorted(gpt) == sorted(gemini)


@pytest.mark.parametrize("lang", LANGS)
def test_generic_has_no_markup_at_all(lucia, demo, lang):
    for doc in (lucia, demo):
        for preset in PRESETS:
            for fmt in ("md", "txt"):
                body = text(
                    doc, preset=preset, fmt=fmt, lang=lang, include_narratives=True
                )
                assert not re.search(r"^(#|- |\* |>)", body, flags=re.MULTILINE)
                assert "**" not in body and "`" not in body
                assert not re.search(r"</?[a-zA-Z]+>", body)


def test_generic_md_and_txt_are_the_same_body(lucia):
    assert render(lucia, fmt="md").body == render(lucia, fmt="txt").body


def test_txt_keeps_each_variants_order_in_the_generic_layout(lucia):
    # README, "Rendering": gpt and generic both put the behavioural
    # instructions first, so their txt bodies are the same; gemini's are last.
    generic = render(lucia, fmt="txt", variant="generic").body
    assert render(lucia, fmt="txt", variant="gpt").body == generic
    gemini = render(lucia, fmt="txt", variant="gemini").body
    assert gemini != generic
    assert sorted(gemini.splitlines()) == sorted(generic.splitlines())


def test_claude_keeps_its_tags_in_txt_and_drops_markdown(lucia):
    body = text(lucia, fmt="txt", lang="en", variant="claude", include_narratives=True)
    opened = re.findall(r"^<(\w+)>$", body, flags=re.MULTILINE)
    closed = re.findall(r"^</(\w+)>$", body, flags=re.MULTILINE)
    assert opened == closed == ALL_SECTIONS
    assert "<portrait>\nPORTRAIT\n\nLucía is a curious" in body
    assert not re.search(r"^(#|- )", body, flags=re.MULTILINE)
    assert "• Taboo: Do not comment on her love life.\n" in body


def test_claude_md_wraps_markdown_sections_in_tags(lucia):
    body = text(lucia, lang="en", variant="claude")
    assert "<bigFive>\n## Personality (Big Five)\n\n" in body
    assert "\n</bigFive>\n\n<assessments>\n" in body


def test_txt_replaces_markdown_with_plain_equivalents(lucia):
    body = text(lucia, fmt="txt", lang="en", variant="gpt")
    assert body.startswith("Cognitive profile of Lucía\n\nYou are talking with")
    assert "\nHOW TO RESPOND\n\n• Do not quote this profile" in body
    assert "\nOpenness to experience: percentile 91, high\n\n" in body


def test_md_and_txt_end_with_exactly_one_newline(tom):
    # The trajectory is the last section of a generic rendering.
    tom["layers"]["trajectory"] = {"text": "Ends with blank lines.  \n\n\n"}
    for fmt in ("md", "txt"):
        body = text(tom, fmt=fmt)
        assert body.endswith("\n\nEnds with blank lines.\n")


def test_include_narratives_without_narratives_changes_nothing(tom):
    for fmt in ("md", "txt"):
        for variant in VARIANTS:
            off = render(tom, fmt=fmt, variant=variant, include_narratives=False)
            on = render(tom, fmt=fmt, variant=variant, include_narratives=True)
            assert on == off

    for fmt, parse in (("json", json.loads), ("yaml", yaml.safe_load)):
        off = parse(render(tom, fmt=fmt, include_narratives=False).body)
        on = parse(render(tom, fmt=fmt, include_narratives=True).body)
        assert off.pop("includeNarratives") is False
        assert on.pop("includeNarratives") is True
        assert on == off


def test_include_narratives_appends_a_narratives_section(lucia):
    off = text(lucia, lang="en", variant="gpt")
    on = text(lucia, lang="en", variant="gpt", include_narratives=True)
    assert on.startswith(off)
    assert on[len(off) :].startswith("\n## Narratives\n\n### How she works\n")


def test_yaml_artifact_round_trips_strings_yaml_treats_specially(tom):
    tricky = {
        "portrait": "no",
        "mentalFrame": "on",
        "lifeContext": "null",
        "trajectory": "1e3",
        "rhythms": "# x",
        "operationalEquipment": "a: b",
    }
    tom["portrait"] = tricky["portrait"]
    for layer in ("mentalFrame", "lifeContext", "trajectory", "rhythms"):
        tom["layers"][layer] = {"text": tricky[layer]}
    tom["layers"]["operationalEquipment"] = {"text": tricky["operationalEquipment"]}
    tom["person"]["displayName"] = "yes"
    tom["narratives"] = [
        {
            "id": "n1",
            "title": "~",
            "text": "  starts with spaces\n- looks: like a list",
        },
        {"id": "n2", "title": "0x1F", "text": "2026-01-01"},
    ]

    rendering = render(tom, fmt="yaml", include_narratives=True)
    artifact = yaml.safe_load(rendering.body)
    assert artifact == json.loads(render(tom, fmt="json", include_narratives=True).body)

    texts = {s["id"]: s["text"] for s in artifact["sections"]}
    for ident, value in tricky.items():
        assert texts[ident] == value
    assert texts["narratives"] == (
        "~\n\n  starts with spaces\n- looks: like a list\n\n0x1F\n\n2026-01-01"
    )
    assert artifact["systemPrompt"].startswith("Cognitive profile of yes\n")


def test_extension_keys_are_ignored_everywhere(lucia):
    baseline = render(lucia, fmt="json", lang="en", include_narratives=True)
    lucia["x-top"] = "ignored"
    lucia["person"]["x-nickname"] = "Lu"
    lucia["bigFive"]["x-norms"] = {"openness": 1}
    lucia["bigFive"]["domains"]["openness"]["facets"]["x-extra"] = 1
    lucia["layers"]["x-layer"] = {"text": "ignored"}
    lucia["layers"]["metaPreferences"]["x-pref"] = "ignored"
    lucia["layers"]["metaPreferences"]["lengthByContext"]["x-ctx"] = "detailed"
    lucia["layers"]["negativeSpace"]["taboos"][0]["x-source"] = "interview"
    lucia["portrait"]["x-draft"] = "ignored"
    lucia["narratives"][0]["x-order"] = 1
    assert render(lucia, fmt="json", lang="en", include_narratives=True) == baseline


# --- Translations ------------------------------------------------------------


def test_translation_files_have_identical_keys_and_fields():
    folder = HERE.parent / "afinitwin_appliance" / "translations"
    catalogs = {
        lang: json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGS
    }
    reference = catalogs["en"]
    for lang, catalog in catalogs.items():
        assert sorted(catalog) == sorted(reference), lang
        for key, phrase in catalog.items():
            assert phrase.strip(), (lang, key)
            fields = sorted(re.findall(r"\{(\w+)\}", phrase))
            assert fields == sorted(re.findall(r"\{(\w+)\}", reference[key])), (
                lang,
                key,
            )


def test_every_phrase_key_the_renderer_can_ask_for_exists():
    for domain in snapshots.DOMAINS:
        for band in ("low", "moderate", "high"):
            for part in ("short", "long", "advice"):
                assert translations.has(f"trait.{domain}.{band}.{part}")
        for facet in snapshots.FACETS[domain]:
            assert translations.has(f"facet.{facet}")
    groups = {
        "value": snapshots.SCHWARTZ_VALUES,
        "attachment": snapshots.ATTACHMENT_STYLES,
        "humour": snapshots.HUMOUR_STYLES,
        "timeOrientation": snapshots.TIME_ORIENTATIONS,
        "length": snapshots.LENGTHS,
        "tolerance": snapshots.TOLERANCES,
        "assertiveness": snapshots.ASSERTIVENESS,
        "citation": snapshots.CITATION_STYLES,
        "chronotype": snapshots.CHRONOTYPES,
        "severity": snapshots.SEVERITIES,
        "language": LANGS,
        "negativeSpace": snapshots.NEGATIVE_SPACE_LISTS,
    }
    for kind, values in groups.items():
        for value in values:
            assert translations.has(f"{kind}.{value}"), (kind, value)


# --- The demo snapshot -------------------------------------------------------


def test_demo_snapshot_is_valid_complete_and_multilingual():
    doc = snapshots.load(DEMO.read_bytes(), DEMO.name)

    assert doc["id"] == "snp_demo"
    assert doc["person"]["displayName"] not in ("Lucía", "Tom")
    assert len(doc["narratives"]) == 2
    assert len(snapshots.content_languages(doc)) >= 2
    assert presets.sections_present(doc) == ALL_SECTIONS
    assert set(doc["layers"]) == {
        "aestheticCanon",
        "negativeSpace",
        "metaPreferences",
        "mentalFrame",
        "operationalEquipment",
        "lifeContext",
        "rhythms",
        "trajectory",
    }
    for domain in snapshots.DOMAINS:
        facets = doc["bigFive"]["domains"][domain]["facets"]
        assert list(facets) == list(snapshots.FACETS[domain])


def test_demo_snapshot_renders_in_its_second_language_without_notes(demo):
    rendering = render(demo, lang="en", variant="gpt", include_narratives=True)
    assert rendering.content_languages == ("en", "de")
    body = rendering.body.decode("utf-8")
    # Only the untranslatable disliked phrases fall back to German.
    assert body.count("(only available in German)") == 2
