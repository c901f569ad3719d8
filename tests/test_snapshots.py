"""The snapshot document: parsing, validation, normalisation (contract §8)."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable

import pytest

from afinitwin_appliance import snapshots
from afinitwin_appliance.errors import SnapshotInvalid
from afinitwin_appliance.snapshots import (
    canonical_json,
    content_languages,
    load,
    normalize,
    parse_document,
    summary_fields,
    validate,
)
from conftest import SHARED_SNAPSHOTS, SNAPSHOTS


LANG_CHOICES = "es, en, fr, de, it, pt"
NUMBER_IN_STRING = "must be a string, not a number (in YAML, put it in quotes)"


def _sample(name: str) -> bytes:
    return (SNAPSHOTS / name).read_bytes()


def _minimal() -> dict:
    """The smallest valid document; each rule test breaks one thing in it."""
    return {
        "schema": "afinitwin.snapshot/v1",
        "snapshotDate": "2026-11-01",
        "version": "1.0.0",
        "source": "purchase",
        "primaryLanguage": "es",
        "person": {"displayName": "Ana"},
        "bigFive": {
            "instrument": "IPIP-NEO-60",
            "domains": {name: {"percentile": 50} for name in snapshots.DOMAINS},
        },
        "portrait": "Ana piensa despacio y decide rápido.",
    }


def _problems(change: Callable[[dict], object]) -> list[str]:
    doc = _minimal()
    change(doc)
    return validate(doc)


def _parse_problems(data: bytes, filename: str | None = None) -> list[str]:
    with pytest.raises(SnapshotInvalid) as caught:
        parse_document(data, filename)
    return caught.value.problems


# --- The shared samples -----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["lucia-ortega.yaml", "tom-whitfield.json", "tom-whitfield-generating.json"]
)
def test_valid_samples_load_without_problems(name: str) -> None:
    doc = parse_document(_sample(name), name)

    assert validate(doc) == []
    assert load(_sample(name), name)["schema"] == "afinitwin.snapshot/v1"


def test_invalid_sample_reports_every_problem_at_once_in_schema_order() -> None:
    with pytest.raises(SnapshotInvalid) as caught:
        load(_sample("invalid-several-errors.yaml"), "invalid-several-errors.yaml")

    assert caught.value.problems == [
        "schema: must be afinitwin.snapshot/v1",
        "snapshotDate: must be a real calendar date in the form YYYY-MM-DD",
        "source: must be one of purchase, plan_included, import",
        f"primaryLanguage: must be one of {LANG_CHOICES}",
        "person.displayName: is required",
        "bigFive.domains.openness.percentile: must be 0–100",
        "bigFive.domains.neuroticism: is required",
        "layers.negativeSpace.taboos[0].severity: must be one of low, medium, high",
        "portrait: is required",
        "favouriteColour: unknown key",
    ]


def test_invalid_sample_paths_are_exactly_the_commented_ones() -> None:
    doc = parse_document(_sample("invalid-several-errors.yaml"))

    paths = [problem.split(": ", 1)[0] for problem in validate(doc)]

    assert paths == [
        "schema",
        "snapshotDate",
        "source",
        "primaryLanguage",
        "person.displayName",
        "bigFive.domains.openness.percentile",
        "bigFive.domains.neuroticism",
        "layers.negativeSpace.taboos[0].severity",
        "portrait",
        "favouriteColour",
    ]


def test_generating_sample_keeps_its_status() -> None:
    doc = load(_sample("tom-whitfield-generating.json"), "x.json")

    assert doc["status"] == "generating"


def test_lucia_summary_fields() -> None:
    doc = load(_sample("lucia-ortega.yaml"), "lucia-ortega.yaml")

    assert summary_fields(doc) == {
        "snapshotDate": "2026-11-01",
        "version": "3.4.0",
        "source": "plan_included",
        "status": "ready",
        "primaryLanguage": "es",
        "languages": ["es", "en"],
        "hasNarratives": True,
    }


def test_tom_summary_fields_have_no_narratives() -> None:
    doc = load(_sample("tom-whitfield.json"), "tom-whitfield.json")

    assert summary_fields(doc) == {
        "snapshotDate": "2026-10-01",
        "version": "3.3.2",
        "source": "purchase",
        "status": "ready",
        "primaryLanguage": "en",
        "languages": ["en"],
        "hasNarratives": False,
    }


# --- Validation rules, one exact message each --------------------------------


def test_minimal_document_is_valid() -> None:
    assert validate(_minimal()) == []


RULES: list[tuple[str, Callable[[dict], object], list[str]]] = [
    # Top level.
    (
        "schema_missing",
        lambda d: d.pop("schema"),
        ["schema: is required"],
    ),
    (
        "schema_other_version",
        lambda d: d.update(schema="afinitwin.snapshot/v2"),
        ["schema: must be afinitwin.snapshot/v1"],
    ),
    (
        "id_with_a_dot",
        lambda d: d.update(id="snp.1"),
        ["id: must be 1–64 characters among A–Z, a–z, 0–9, _ and -"],
    ),
    (
        "id_of_65_characters",
        lambda d: d.update(id="a" * 65),
        ["id: must be 1–64 characters among A–Z, a–z, 0–9, _ and -"],
    ),
    (
        "id_empty",
        lambda d: d.update(id=""),
        ["id: must be 1–64 characters among A–Z, a–z, 0–9, _ and -"],
    ),
    (
        "id_not_ascii",
        lambda d: d.update(id="snp_ñ"),
        ["id: must be 1–64 characters among A–Z, a–z, 0–9, _ and -"],
    ),
    ("id_number", lambda d: d.update(id=7), [f"id: {NUMBER_IN_STRING}"]),
    (
        "date_missing",
        lambda d: d.pop("snapshotDate"),
        ["snapshotDate: is required"],
    ),
    (
        "date_month_13",
        lambda d: d.update(snapshotDate="2026-13-01"),
        ["snapshotDate: must be a real calendar date in the form YYYY-MM-DD"],
    ),
    (
        "date_february_30",
        lambda d: d.update(snapshotDate="2026-02-30"),
        ["snapshotDate: must be a real calendar date in the form YYYY-MM-DD"],
    ),
    (
        "date_without_leading_zeros",
        lambda d: d.update(snapshotDate="2026-2-3"),
        ["snapshotDate: must be a real calendar date in the form YYYY-MM-DD"],
    ),
    (
        "date_compact_iso_form",
        lambda d: d.update(snapshotDate="20261101"),
        ["snapshotDate: must be a real calendar date in the form YYYY-MM-DD"],
    ),
    (
        "date_string_with_time",
        lambda d: d.update(snapshotDate="2026-11-01T10:00:00Z"),
        ["snapshotDate: must be a date without a time of day (YYYY-MM-DD)"],
    ),
    (
        "date_datetime_object",
        lambda d: d.update(snapshotDate=datetime.datetime(2026, 11, 1, 10, 0)),
        ["snapshotDate: must be a date without a time of day (YYYY-MM-DD)"],
    ),
    (
        "date_number",
        lambda d: d.update(snapshotDate=20261101),
        ["snapshotDate: must be a date (YYYY-MM-DD), not a number"],
    ),
    ("version_missing", lambda d: d.pop("version"), ["version: is required"]),
    (
        "version_float",
        lambda d: d.update(version=3.4),
        ['version: must be a string; in YAML write it in quotes, e.g. "3.4"'],
    ),
    ("version_blank", lambda d: d.update(version="  "), ["version: must not be empty"]),
    ("source_missing", lambda d: d.pop("source"), ["source: is required"]),
    (
        "source_unknown",
        lambda d: d.update(source="gift"),
        ["source: must be one of purchase, plan_included, import"],
    ),
    (
        "status_unknown",
        lambda d: d.update(status="done"),
        ["status: must be one of ready, generating, failed"],
    ),
    (
        "language_unknown",
        lambda d: d.update(primaryLanguage="xx"),
        [f"primaryLanguage: must be one of {LANG_CHOICES}"],
    ),
    (
        "language_missing",
        lambda d: d.pop("primaryLanguage"),
        ["primaryLanguage: is required"],
    ),
    ("unknown_top_key", lambda d: d.update(colour="teal"), ["colour: unknown key"]),
    # person
    ("person_missing", lambda d: d.pop("person"), ["person: is required"]),
    (
        "person_string",
        lambda d: d.update(person="Ana"),
        ["person: must be an object, not a string"],
    ),
    (
        "display_name_missing",
        lambda d: d["person"].pop("displayName"),
        ["person.displayName: is required"],
    ),
    (
        "display_name_empty",
        lambda d: d["person"].update(displayName=""),
        ["person.displayName: must not be empty"],
    ),
    (
        "display_name_null",
        lambda d: d["person"].update(displayName=None),
        ["person.displayName: must be a string, not null"],
    ),
    (
        "pronouns_boolean",
        lambda d: d["person"].update(pronouns=False),
        [
            "person.pronouns: must be a string, not a boolean "
            "(in YAML, put it in quotes)"
        ],
    ),
    (
        "person_unknown_key",
        lambda d: d["person"].update(age=40),
        ["person.age: unknown key"],
    ),
    # bigFive
    ("big_five_missing", lambda d: d.pop("bigFive"), ["bigFive: is required"]),
    (
        "instrument_missing",
        lambda d: d["bigFive"].pop("instrument"),
        ["bigFive.instrument: is required"],
    ),
    (
        "instrument_number",
        lambda d: d["bigFive"].update(instrument=120),
        [f"bigFive.instrument: {NUMBER_IN_STRING}"],
    ),
    (
        "domains_missing",
        lambda d: d["bigFive"].pop("domains"),
        ["bigFive.domains: is required"],
    ),
    (
        "domains_list",
        lambda d: d["bigFive"].update(domains=[]),
        ["bigFive.domains: must be an object, not a list"],
    ),
    (
        "domain_missing",
        lambda d: d["bigFive"]["domains"].pop("agreeableness"),
        ["bigFive.domains.agreeableness: is required"],
    ),
    (
        "domain_unknown",
        lambda d: d["bigFive"]["domains"].update(honesty={"percentile": 50}),
        ["bigFive.domains.honesty: unknown key"],
    ),
    (
        "percentile_missing",
        lambda d: d["bigFive"]["domains"]["openness"].pop("percentile"),
        ["bigFive.domains.openness.percentile: is required"],
    ),
    (
        "percentile_above_100",
        lambda d: d["bigFive"]["domains"]["openness"].update(percentile=140),
        ["bigFive.domains.openness.percentile: must be 0–100"],
    ),
    (
        "percentile_negative",
        lambda d: d["bigFive"]["domains"]["openness"].update(percentile=-0.5),
        ["bigFive.domains.openness.percentile: must be 0–100"],
    ),
    (
        "percentile_not_a_number",
        lambda d: d["bigFive"]["domains"]["openness"].update(percentile=float("nan")),
        ["bigFive.domains.openness.percentile: must be 0–100"],
    ),
    (
        "percentile_boolean",
        lambda d: d["bigFive"]["domains"]["openness"].update(percentile=True),
        ["bigFive.domains.openness.percentile: must be a number, not a boolean"],
    ),
    (
        "percentile_string",
        lambda d: d["bigFive"]["domains"]["openness"].update(percentile="91"),
        ["bigFive.domains.openness.percentile: must be a number, not a string"],
    ),
    (
        "facet_of_another_domain",
        lambda d: d["bigFive"]["domains"]["openness"].update(facets={"anxiety": 10}),
        [
            "bigFive.domains.openness.facets.anxiety: is not a facet of openness; "
            "use one of imagination, artisticInterests, emotionality, "
            "adventurousness, intellect, liberalism"
        ],
    ),
    (
        "facet_above_100",
        lambda d: d["bigFive"]["domains"]["neuroticism"].update(facets={"anger": 101}),
        ["bigFive.domains.neuroticism.facets.anger: must be 0–100"],
    ),
    (
        "facet_extension_key",
        lambda d: d["bigFive"]["domains"]["extraversion"].update(
            facets={"x-warmth": 3}
        ),
        [
            "bigFive.domains.extraversion.facets.x-warmth: is not a facet of "
            "extraversion; use one of friendliness, gregariousness, assertiveness, "
            "activityLevel, excitementSeeking, cheerfulness"
        ],
    ),
    (
        "facets_list",
        lambda d: d["bigFive"]["domains"]["agreeableness"].update(facets=[1]),
        ["bigFive.domains.agreeableness.facets: must be an object, not a list"],
    ),
    # assessments
    (
        "values_top_empty",
        lambda d: d.update(assessments={"values": {"top": []}}),
        ["assessments.values.top: must list 1–3 Schwartz values"],
    ),
    (
        "values_top_four",
        lambda d: d.update(
            assessments={
                "values": {"top": ["power", "security", "hedonism", "tradition"]}
            }
        ),
        ["assessments.values.top: must list 1–3 Schwartz values"],
    ),
    (
        "values_top_repeated",
        lambda d: d.update(assessments={"values": {"top": ["power", "power"]}}),
        ["assessments.values.top[1]: repeats power"],
    ),
    (
        "values_top_unknown",
        lambda d: d.update(assessments={"values": {"top": ["honesty"]}}),
        [
            "assessments.values.top[0]: must be one of selfDirection, stimulation, "
            "hedonism, achievement, power, security, conformity, tradition, "
            "benevolence, universalism"
        ],
    ),
    (
        "values_top_missing",
        lambda d: d.update(assessments={"values": {}}),
        ["assessments.values.top: is required"],
    ),
    (
        "attachment_unknown",
        lambda d: d.update(assessments={"attachment": {"style": "clingy"}}),
        [
            "assessments.attachment.style: must be one of secure, anxious, "
            "avoidant, fearful"
        ],
    ),
    (
        "humour_unknown",
        lambda d: d.update(assessments={"humour": {"style": "dry"}}),
        [
            "assessments.humour.style: must be one of affiliative, selfEnhancing, "
            "aggressive, selfDefeating"
        ],
    ),
    (
        "time_orientation_unknown",
        lambda d: d.update(assessments={"timeOrientation": {"dominant": "now"}}),
        [
            "assessments.timeOrientation.dominant: must be one of pastNegative, "
            "pastPositive, presentHedonistic, presentFatalistic, future"
        ],
    ),
    (
        "assessments_unknown_key",
        lambda d: d.update(assessments={"mbti": "INTJ"}),
        ["assessments.mbti: unknown key"],
    ),
    # layers
    (
        "layers_unknown_layer",
        lambda d: d.update(layers={"hobbies": {"text": "Chess"}}),
        ["layers.hobbies: unknown key"],
    ),
    (
        "aesthetic_items_missing",
        lambda d: d.update(layers={"aestheticCanon": {}}),
        ["layers.aestheticCanon.items: is required"],
    ),
    (
        "aesthetic_work_missing",
        lambda d: d.update(
            layers={"aestheticCanon": {"items": [{"author": "Borges"}]}}
        ),
        ["layers.aestheticCanon.items[0].work: is required"],
    ),
    (
        "aesthetic_author_number",
        lambda d: d.update(
            layers={"aestheticCanon": {"items": [{"work": "Ficciones", "author": 1}]}}
        ),
        [f"layers.aestheticCanon.items[0].author: {NUMBER_IN_STRING}"],
    ),
    (
        "aesthetic_note_without_primary_language",
        lambda d: d.update(
            layers={
                "aestheticCanon": {
                    "items": [{"work": "Ficciones", "note": {"en": "Short stories."}}]
                }
            }
        ),
        [
            "layers.aestheticCanon.items[0].note: has no text in the primary "
            "language es"
        ],
    ),
    (
        "negative_space_severity",
        lambda d: d.update(
            layers={"negativeSpace": {"taboos": [{"text": "x", "severity": "extreme"}]}}
        ),
        ["layers.negativeSpace.taboos[0].severity: must be one of low, medium, high"],
    ),
    (
        "negative_space_item_missing_both",
        lambda d: d.update(layers={"negativeSpace": {"petPeeves": [{}]}}),
        [
            "layers.negativeSpace.petPeeves[0].text: is required",
            "layers.negativeSpace.petPeeves[0].severity: is required",
        ],
    ),
    (
        "negative_space_unknown_list",
        lambda d: d.update(layers={"negativeSpace": {"fears": []}}),
        ["layers.negativeSpace.fears: unknown key"],
    ),
    (
        "negative_space_list_is_object",
        lambda d: d.update(layers={"negativeSpace": {"antimodels": {}}}),
        ["layers.negativeSpace.antimodels: must be a list, not an object"],
    ),
    (
        "length_by_context_value",
        lambda d: d.update(
            layers={"metaPreferences": {"lengthByContext": {"chat": "long"}}}
        ),
        [
            "layers.metaPreferences.lengthByContext.chat: must be one of concise, "
            "medium, detailed"
        ],
    ),
    (
        "language_by_domain_value",
        lambda d: d.update(
            layers={"metaPreferences": {"languageByDomain": {"work": "ca"}}}
        ),
        [
            "layers.metaPreferences.languageByDomain.work: must be one of "
            f"{LANG_CHOICES}"
        ],
    ),
    (
        "contradiction_tolerance",
        lambda d: d.update(layers={"metaPreferences": {"contradictionTolerance": 3}}),
        [
            "layers.metaPreferences.contradictionTolerance: must be one of low, "
            "medium, high"
        ],
    ),
    (
        "opinion_assertiveness",
        lambda d: d.update(
            layers={"metaPreferences": {"opinionAssertiveness": "loud"}}
        ),
        [
            "layers.metaPreferences.opinionAssertiveness: must be one of reserved, "
            "balanced, assertive"
        ],
    ),
    (
        "citation_style",
        lambda d: d.update(layers={"metaPreferences": {"citationStyle": "chicago"}}),
        [
            "layers.metaPreferences.citationStyle: must be one of inline, footnote, "
            "apa, mla, none"
        ],
    ),
    (
        "programming_language_empty",
        lambda d: d.update(layers={"metaPreferences": {"programmingLanguage": ""}}),
        ["layers.metaPreferences.programmingLanguage: must not be empty"],
    ),
    (
        "meta_preferences_unknown_key",
        lambda d: d.update(layers={"metaPreferences": {"emoji": "never"}}),
        ["layers.metaPreferences.emoji: unknown key"],
    ),
    (
        "equipment_items_not_strings",
        lambda d: d.update(layers={"operationalEquipment": {"items": ["vim", 2]}}),
        [f"layers.operationalEquipment.items[1]: {NUMBER_IN_STRING}"],
    ),
    (
        "equipment_items_string",
        lambda d: d.update(layers={"operationalEquipment": {"items": "vim"}}),
        ["layers.operationalEquipment.items: must be a list, not a string"],
    ),
    (
        "chronotype_unknown",
        lambda d: d.update(layers={"rhythms": {"chronotype": "night"}}),
        ["layers.rhythms.chronotype: must be one of morning, intermediate, evening"],
    ),
    (
        "mental_frame_without_text",
        lambda d: d.update(layers={"mentalFrame": {}}),
        ["layers.mentalFrame.text: is required"],
    ),
    (
        "life_context_is_a_string",
        lambda d: d.update(layers={"lifeContext": "Vive en Vigo."}),
        ["layers.lifeContext: must be an object, not a string"],
    ),
    (
        "trajectory_unknown_key",
        lambda d: d.update(layers={"trajectory": {"text": "x", "since": 2020}}),
        ["layers.trajectory.since: unknown key"],
    ),
    # texts
    ("portrait_missing", lambda d: d.pop("portrait"), ["portrait: is required"]),
    (
        "portrait_empty",
        lambda d: d.update(portrait=""),
        ["portrait: must not be empty"],
    ),
    (
        "portrait_list",
        lambda d: d.update(portrait=["a"]),
        [
            "portrait: must be a text (a string, or an object from language code "
            "to string), not a list"
        ],
    ),
    (
        "portrait_empty_map",
        lambda d: d.update(portrait={}),
        ["portrait: must not be empty"],
    ),
    (
        "portrait_without_primary_language",
        lambda d: d.update(portrait={"en": "Ana thinks slowly."}),
        ["portrait: has no text in the primary language es"],
    ),
    (
        "portrait_unknown_language",
        lambda d: d.update(portrait={"es": "Ana.", "ca": "Ana."}),
        [f"portrait.ca: unknown language; use one of {LANG_CHOICES}"],
    ),
    (
        "portrait_extension_key_in_text_map",
        lambda d: d.update(portrait={"es": "Ana.", "x-source": "survey"}),
        [f"portrait.x-source: unknown language; use one of {LANG_CHOICES}"],
    ),
    (
        "portrait_empty_translation",
        lambda d: d.update(portrait={"es": "Ana.", "en": ""}),
        ["portrait.en: must not be empty"],
    ),
    (
        "portrait_translation_number",
        lambda d: d.update(portrait={"es": 5}),
        [f"portrait.es: {NUMBER_IN_STRING}"],
    ),
    # narratives
    (
        "narratives_object",
        lambda d: d.update(narratives={}),
        ["narratives: must be a list, not an object"],
    ),
    (
        "narrative_missing_fields",
        lambda d: d.update(narratives=[{}]),
        [
            "narratives[0].id: is required",
            "narratives[0].title: is required",
            "narratives[0].text: is required",
        ],
    ),
    (
        "narrative_ids_repeated",
        lambda d: d.update(
            narratives=[
                {"id": "a", "title": "Uno", "text": "Texto."},
                {"id": "b", "title": "Dos", "text": "Texto."},
                {"id": "a", "title": "Tres", "text": "Texto."},
            ]
        ),
        ["narratives[2].id: repeats the id 'a' of an earlier one"],
    ),
    (
        "narrative_title_without_primary_language",
        lambda d: d.update(
            narratives=[{"id": "a", "title": {"en": "One"}, "text": "Texto."}]
        ),
        ["narratives[0].title: has no text in the primary language es"],
    ),
    (
        "narrative_unknown_key",
        lambda d: d.update(
            narratives=[{"id": "a", "title": "Uno", "text": "Texto.", "mood": "x"}]
        ),
        ["narratives[0].mood: unknown key"],
    ),
    # extension keys
    (
        "extension_value_not_json",
        lambda d: d.update({"x-tags": {"a", "b"}}),
        ["x-tags: must be a JSON value, not a set"],
    ),
    (
        "extension_value_infinite",
        lambda d: d["person"].update({"x-score": [1, float("inf")]}),
        ["person.x-score[1]: must be a finite number"],
    ),
    (
        "extension_value_date",
        lambda d: d.update({"x-exportedOn": datetime.date(2026, 11, 1)}),
        ["x-exportedOn: must be a JSON value, not a date"],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, expected, id=name) for name, change, expected in RULES],
)
def test_rule_reports_exact_problem(
    change: Callable[[dict], object], expected: list[str]
) -> None:
    assert _problems(change) == expected


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.pop("id", None), id="id_absent"),
        pytest.param(lambda d: d.update(id="A" * 64), id="id_of_64_characters"),
        pytest.param(lambda d: d.update(id="snp_tom-2026_10"), id="id_with_dash"),
        pytest.param(
            lambda d: d.update(snapshotDate=datetime.date(2026, 2, 28)),
            id="date_object",
        ),
        pytest.param(lambda d: d.update(snapshotDate="2024-02-29"), id="leap_day"),
        pytest.param(lambda d: d.update(status="failed"), id="status_failed"),
        pytest.param(
            lambda d: d["bigFive"]["domains"]["openness"].update(percentile=99.5),
            id="percentile_float",
        ),
        pytest.param(
            lambda d: d["bigFive"]["domains"]["openness"].update(percentile=0),
            id="percentile_zero",
        ),
        pytest.param(
            lambda d: d["bigFive"]["domains"]["openness"].update(
                facets={"intellect": 100}
            ),
            id="facet_100",
        ),
        pytest.param(
            lambda d: d.update(
                **{"x-origin": {"tool": "export", "n": [1, None, True]}},
            ),
            id="top_extension",
        ),
        pytest.param(
            lambda d: d["bigFive"]["domains"]["openness"].update({"x-note": "ok"}),
            id="nested_extension",
        ),
        pytest.param(
            lambda d: d.update(assessments={}, layers={}, narratives=[]),
            id="empty_optional_objects",
        ),
        pytest.param(
            lambda d: d.update(
                portrait={"es": "Ana.", "fr": "Ana."},
                layers={
                    "rhythms": {"chronotype": "evening"},
                    "operationalEquipment": {"items": []},
                    "metaPreferences": {"lengthByContext": {}},
                },
            ),
            id="optional_parts",
        ),
    ],
)
def test_allowed_variations_are_valid(change: Callable[[dict], object]) -> None:
    assert _problems(change) == []


def test_texts_are_not_checked_against_an_unknown_primary_language() -> None:
    # One problem, not one per text map: the root cause is the language.
    problems = _problems(
        lambda d: d.update(primaryLanguage="xx", portrait={"en": "Ana."})
    )

    assert problems == [f"primaryLanguage: must be one of {LANG_CHOICES}"]


def test_wrong_types_everywhere_give_messages_not_exceptions() -> None:
    doc = {
        "schema": None,
        "id": [],
        "snapshotDate": {},
        "version": None,
        "source": [],
        "status": {},
        "primaryLanguage": 3,
        "person": [],
        "bigFive": {"instrument": {}, "domains": {"openness": []}},
        "assessments": {"values": {"top": "power"}, "humour": 1},
        "layers": {"negativeSpace": {"taboos": ["x"]}, "rhythms": None},
        "portrait": 1.5,
        "narratives": [None],
        7: "seven",
    }

    problems = validate(doc)

    assert problems == [
        "schema: must be afinitwin.snapshot/v1",
        "id: must be a string, not a list",
        "snapshotDate: must be a date (YYYY-MM-DD), not an object",
        "version: must be a string, not null",
        "source: must be one of purchase, plan_included, import",
        "status: must be one of ready, generating, failed",
        f"primaryLanguage: must be one of {LANG_CHOICES}",
        "person: must be an object, not a list",
        "bigFive.instrument: must be a string, not an object",
        "bigFive.domains.openness: must be an object, not a list",
        "bigFive.domains.conscientiousness: is required",
        "bigFive.domains.extraversion: is required",
        "bigFive.domains.agreeableness: is required",
        "bigFive.domains.neuroticism: is required",
        "assessments.values.top: must be a list, not a string",
        "assessments.humour: must be an object, not a number",
        "layers.negativeSpace.taboos[0]: must be an object, not a string",
        "layers.rhythms: must be an object, not null",
        "portrait: must be a text (a string, or an object from language code "
        "to string), not a number",
        "narratives[0]: must be an object, not null",
        "7: unknown key",
    ]


def test_a_document_that_is_not_an_object_is_one_problem() -> None:
    assert validate([1, 2]) == ["document: must be an object, not a list"]


def test_validation_order_is_stable() -> None:
    doc = parse_document(_sample("invalid-several-errors.yaml"))

    assert validate(doc) == validate(copy.deepcopy(doc))


# --- YAML specifics -----------------------------------------------------------


def _yaml_doc(**replacements: str) -> bytes:
    """The minimal document as YAML, with some lines' values replaced verbatim."""
    lines = {
        "schema": "afinitwin.snapshot/v1",
        "snapshotDate": "2026-11-01",
        "version": '"1.0.0"',
        "source": "purchase",
        "primaryLanguage": "es",
        "person": "{displayName: Ana}",
        "bigFive": (
            "{instrument: IPIP-NEO-60, domains: {openness: {percentile: 50}, "
            "conscientiousness: {percentile: 50}, extraversion: {percentile: 50}, "
            "agreeableness: {percentile: 50}, neuroticism: {percentile: 50}}}"
        ),
        "portrait": "Ana piensa despacio y decide rápido.",
    }
    lines.update(replacements)
    return "".join(f"{key}: {value}\n" for key, value in lines.items()).encode()


def test_yaml_document_equals_the_minimal_json_document() -> None:
    assert load(_yaml_doc(), "a.yaml") == load(
        json.dumps(_minimal()).encode(), "a.json"
    )


def test_yaml_unquoted_float_version_is_refused_with_a_hint() -> None:
    doc = parse_document(_yaml_doc(version="3.4"), "a.yaml")

    assert validate(doc) == [
        'version: must be a string; in YAML write it in quotes, e.g. "3.4"'
    ]


@pytest.mark.parametrize("date", ["2026-13-01", "2026-02-30"])
def test_yaml_impossible_date_is_a_validation_problem_not_a_crash(date: str) -> None:
    doc = parse_document(_yaml_doc(snapshotDate=date), "a.yaml")

    assert validate(doc) == [
        "snapshotDate: must be a real calendar date in the form YYYY-MM-DD"
    ]


def test_yaml_timestamp_with_time_is_refused() -> None:
    doc = parse_document(_yaml_doc(snapshotDate="2026-11-01T10:00:00Z"), "a.yaml")

    assert validate(doc) == [
        "snapshotDate: must be a date without a time of day (YYYY-MM-DD)"
    ]


def test_yaml_boolean_word_in_a_string_field_gets_a_quoting_hint() -> None:
    doc = parse_document(_yaml_doc(person="{displayName: Ana, pronouns: no}"))

    assert validate(doc) == [
        "person.pronouns: must be a string, not a boolean (in YAML, put it in quotes)"
    ]


def test_yaml_extension_value_that_json_cannot_hold_is_refused() -> None:
    data = _yaml_doc() + b"x-raw: !!binary aGVsbG8=\n"

    assert validate(parse_document(data, "a.yaml")) == [
        "x-raw: must be a JSON value, not a bytes"
    ]


def test_yaml_python_tags_are_refused() -> None:
    data = b"schema: !!python/object/apply:os.system ['true']\n"

    assert _parse_problems(data, "a.yaml") == [
        "not valid YAML at line 1, column 9: could not determine a constructor "
        "for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"
    ]


# --- Malformed bytes ----------------------------------------------------------


def test_bytes_that_are_not_utf8_are_refused() -> None:
    data = "schema: é".encode("latin-1")

    assert _parse_problems(data, "a.yaml") == [
        "the document is not UTF-8 text (invalid byte at offset 8)"
    ]


def test_broken_yaml_names_line_and_column() -> None:
    data = b"schema: afinitwin.snapshot/v1\nperson: {displayName: Ana\nversion: 1\n"

    assert _parse_problems(data, "a.yml") == [
        "not valid YAML at line 3, column 8: expected ',' or '}', but got ':'"
    ]


def test_broken_json_names_line_and_column() -> None:
    data = b'{\n  "schema": "afinitwin.snapshot/v1",\n  "version": 1.0.0\n}'

    assert _parse_problems(data, "a.json") == [
        "not valid JSON at line 3, column 17: Expecting ',' delimiter"
    ]


def test_broken_json_without_a_filename_reports_the_json_error() -> None:
    assert _parse_problems(b'{"schema": "afinitwin.snapshot/v1",, }') == [
        "not valid JSON at line 1, column 36: Expecting property name enclosed "
        "in double quotes"
    ]


@pytest.mark.parametrize("filename", ["a.json", None])
def test_json_list_at_top_level_is_refused(filename: str | None) -> None:
    assert _parse_problems(b'[{"schema": "afinitwin.snapshot/v1"}]', filename) == [
        "the document must be an object at the top level, not a list"
    ]


@pytest.mark.parametrize("filename", ["a.yaml", "a.json", None])
@pytest.mark.parametrize("data", [b"", b"  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(data: bytes, filename: str | None) -> None:
    assert _parse_problems(data, filename) == ["the document is empty"]


def test_yaml_with_only_comments_is_empty() -> None:
    assert _parse_problems(b"# nothing here\n", "a.yaml") == ["the document is empty"]


def test_yaml_scalar_at_top_level_is_refused() -> None:
    assert _parse_problems(b"just words\n") == [
        "the document must be an object at the top level, not a string"
    ]


def test_billion_laughs_is_refused_at_the_first_alias() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    data = ("\n".join(lines) + "\n").encode()

    assert _parse_problems(data, "bomb.yaml") == [
        "not valid YAML at line 2, column 10: YAML aliases (*name) are not "
        "accepted in a snapshot"
    ]


def test_merge_key_with_an_alias_is_refused() -> None:
    data = b"base: &b {source: purchase}\nother:\n  <<: *b\n"

    assert _parse_problems(data, "a.yaml") == [
        "not valid YAML at line 3, column 7: YAML aliases (*name) are not "
        "accepted in a snapshot"
    ]


def test_document_over_2_mib_is_refused_before_parsing() -> None:
    data = b"portrait: " + b"x" * (2 * 1024 * 1024)

    assert _parse_problems(data, "a.yaml") == [
        f"the document is {len(data)} bytes; the limit is 2 MiB (2097152)"
    ]


def test_document_of_exactly_2_mib_is_parsed() -> None:
    head = b'{"x-pad": "'
    data = head + b"x" * (2 * 1024 * 1024 - len(head) - 2) + b'"}'

    assert len(parse_document(data, "a.json")["x-pad"]) == len(data) - 13


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"[" * 100_000, "a.json"),
        (b"a: " + b"[" * 100_000, "a.yaml"),
        (b'{"x-a":' * 65 + b"1" + b"}" * 65, "a.json"),
    ],
    ids=["json_brackets", "yaml_brackets", "json_65_levels"],
)
def test_deep_nesting_is_refused(data: bytes, filename: str) -> None:
    assert _parse_problems(data, filename) == [
        "the document is nested more than 64 levels deep"
    ]


def test_yaml_duplicate_keys_are_all_reported_with_their_lines() -> None:
    data = b"version: '1'\nsource: import\nversion: '2'\nperson:\n  a: 1\n  a: 2\n"

    assert _parse_problems(data, "a.yaml") == [
        "duplicate key 'version' at line 3, column 1",
        "duplicate key 'a' at line 6, column 3",
    ]


@pytest.mark.parametrize("filename", ["a.json", None])
def test_json_duplicate_keys_are_reported(filename: str | None) -> None:
    data = b'{"version": "1", "person": {"displayName": "A", "displayName": "B"}}'

    assert _parse_problems(data, filename) == [
        "duplicate key 'displayName' in a JSON object"
    ]


def test_yaml_control_character_is_refused() -> None:
    problems = _parse_problems(b"portrait: a\x01b\n", "a.yaml")

    assert problems[0].startswith("not valid YAML: unacceptable character #x0001")


def test_yaml_with_two_documents_is_refused() -> None:
    assert _parse_problems(b"a: 1\n---\nb: 2\n", "a.yaml") == [
        "not valid YAML at line 2, column 1: but found another document"
    ]


@pytest.mark.parametrize(
    "data", [b"a: !!int abc\n", b"a: " + b"9" * 5000 + b"\n"], ids=["tag", "digits"]
)
def test_yaml_values_python_cannot_build_are_refused(data: bytes) -> None:
    assert _parse_problems(data, "a.yaml")[0].startswith("not valid YAML: ")


def test_json_integer_python_cannot_build_is_refused() -> None:
    data = b'{"a": ' + b"9" * 5000 + b"}"

    assert _parse_problems(data, "a.json")[0].startswith("not valid JSON: ")


def test_format_is_sniffed_without_a_filename() -> None:
    json_doc = parse_document(json.dumps(_minimal()).encode())
    yaml_doc = parse_document(_yaml_doc())

    assert json_doc == yaml_doc == _minimal()


def test_extension_decides_the_format_whatever_the_case() -> None:
    # Valid YAML but not JSON: the .JSON name makes it a JSON error.
    assert _parse_problems(b"schema: x\n", "SNAP.JSON") == [
        "not valid JSON at line 1, column 1: Expecting value"
    ]


def test_byte_order_mark_is_ignored() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(_minimal()).encode()

    assert parse_document(data, "a.json") == _minimal()


# --- normalize, load, canonical_json ----------------------------------------


def test_normalize_turns_a_yaml_date_into_a_string_and_defaults_status() -> None:
    doc = _minimal()
    doc["snapshotDate"] = datetime.date(2026, 11, 1)
    doc["x-origin"] = {"tool": "export"}
    before = copy.deepcopy(doc)

    result = normalize(doc)

    assert result == {**before, "snapshotDate": "2026-11-01", "status": "ready"}
    assert doc == before
    assert json.loads(json.dumps(result)) == result


def test_normalize_keeps_a_given_status() -> None:
    doc = _minimal()
    doc["status"] = "failed"

    assert normalize(doc)["status"] == "failed"


def test_normalize_refuses_an_invalid_document() -> None:
    doc = _minimal()
    del doc["portrait"]

    with pytest.raises(SnapshotInvalid) as caught:
        normalize(doc)

    assert caught.value.problems == ["portrait: is required"]


def test_load_refuses_with_every_validation_problem() -> None:
    data = json.dumps({**_minimal(), "source": "gift", "colour": "teal"}).encode()

    with pytest.raises(SnapshotInvalid) as caught:
        load(data, "a.json")

    assert caught.value.problems == [
        "source: must be one of purchase, plan_included, import",
        "colour: unknown key",
    ]


def test_snapshot_invalid_is_a_domain_error_with_a_message() -> None:
    from afinitwin_appliance.errors import DomainError

    with pytest.raises(DomainError, match="the document is empty"):
        load(b"", "a.yaml")


def test_canonical_json_is_sorted_compact_and_keeps_non_ascii() -> None:
    assert canonical_json({"b": 1, "a": {"d": "é", "c": [1, 2]}}) == (
        '{"a":{"c":[1,2],"d":"é"},"b":1}'
    )


def test_canonical_json_is_identical_for_yaml_and_json_of_lucia() -> None:
    from_yaml = load(_sample("lucia-ortega.yaml"), "lucia-ortega.yaml")
    # Same content, other format, other key order, other whitespace.
    reordered = dict(reversed(list(from_yaml.items())))
    as_json = json.dumps(reordered, indent=4, ensure_ascii=True).encode()

    from_json = load(as_json, "lucia.json")

    assert canonical_json(from_json) == canonical_json(from_yaml)


def test_canonical_json_is_identical_for_a_handwritten_yaml_and_json_pair() -> None:
    yaml_text = _yaml_doc(status="ready")
    json_text = json.dumps({**_minimal(), "status": "ready"}, indent=2).encode()

    assert canonical_json(load(yaml_text)) == canonical_json(load(json_text))


def test_canonical_json_differs_when_the_content_differs() -> None:
    changed = {**_minimal(), "version": "1.0.1"}

    assert canonical_json(normalize(_minimal())) != canonical_json(normalize(changed))


def test_canonical_json_treats_a_missing_status_as_ready() -> None:
    explicit = {**_minimal(), "status": "ready"}

    assert canonical_json(normalize(_minimal())) == canonical_json(normalize(explicit))


# --- content_languages and summary_fields -----------------------------------


def test_content_languages_of_lucia() -> None:
    doc = load(_sample("lucia-ortega.yaml"), "lucia-ortega.yaml")

    assert content_languages(doc) == ["es", "en"]


def test_content_languages_of_plain_strings_is_the_primary_only() -> None:
    assert content_languages(normalize(_minimal())) == ["es"]


def test_content_languages_put_the_primary_first_then_contract_order() -> None:
    doc = _minimal()
    doc["primaryLanguage"] = "it"
    doc["portrait"] = {"it": "Ana.", "pt": "Ana.", "fr": "Ana."}
    doc["layers"] = {"trajectory": {"text": {"it": "Da A a B.", "de": "Von A."}}}
    doc["narratives"] = [{"id": "n", "title": {"it": "T", "es": "T"}, "text": "x"}]

    assert content_languages(normalize(doc)) == ["it", "es", "fr", "de", "pt"]


def test_language_by_domain_values_are_not_content_languages() -> None:
    doc = _minimal()
    doc["layers"] = {"metaPreferences": {"languageByDomain": {"code": "en"}}}

    assert content_languages(normalize(doc)) == ["es"]


def test_summary_fields_of_a_document_without_status() -> None:
    doc = _minimal()
    doc["snapshotDate"] = datetime.date(2026, 1, 2)
    doc["narratives"] = []

    assert summary_fields(doc) == {
        "snapshotDate": "2026-01-02",
        "version": "1.0.0",
        "source": "purchase",
        "status": "ready",
        "primaryLanguage": "es",
        "languages": ["es"],
        "hasNarratives": False,
    }


@pytest.mark.skipif(
    not SHARED_SNAPSHOTS.is_dir(), reason="the project's shared data is not beside"
)
def test_sample_documents_match_the_shared_ones():
    for shared in sorted(SHARED_SNAPSHOTS.iterdir()):
        assert (SNAPSHOTS / shared.name).read_bytes() == shared.read_bytes()
