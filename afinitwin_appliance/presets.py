"""Presets: a snapshot rendered as an LLM system prompt (contract section 7).

Pure domain code: a validated snapshot document in, the exact response body
out. No Bottle, no SQL, no I/O beyond the phrase catalogs that
`translations` reads once at import.

Design choices, and why:

- Rendering has two stages. `_compose` turns the snapshot into a small,
  format-free document model (sections of paragraphs, lists and
  subheadings) in the requested language; `_write_prompt` lays that model out
  for a variant and a format. The language decisions (which phrase, which
  fallback, which note) are then made once, and the four variants and four
  formats cannot drift apart in content, only in layout.
- Every word the appliance writes comes from the catalogs, so a rendering in
  one language holds no template text of another. Enum values are looked up
  as `<kind>.<value>`; a free key with no phrase (a context name of
  `lengthByContext` the catalogs do not know) is shown as words
  (`smallTalk` -> "small talk"), never as the raw identifier.
- Free text is taken in the requested language, else in the primary
  language, else in the first language it has; whenever the text shown is
  not in the requested language, a note in the requested language says so,
  and `contentLanguages` lists that language after the requested one (in the
  contract's language order, so that all variants of a query agree).
- Section order: the behavioural sections (`instructions`,
  `metaPreferences`, `negativeSpace`) come first for claude, gpt and generic,
  and last for gemini, with `instructions` the very last section there. The
  narratives follow the profile sections, so for gemini they come before the
  behavioural block: the contract's "instructions last" wins over
  "appended". No phrase refers to "above" or "below" a section for that
  reason.
- Markup: gpt and gemini use Markdown headings (`#`, `##`, `###`) and `- `
  lists; claude uses the same inside one XML-style tag per section (the tag is
  the section id); generic uses no markup at all: section titles in capitals
  and `•` as the list marker. `format=txt` gives every variant the generic
  layout and keeps only claude's tags, which that variant needs. So for
  generic the md and txt bodies are the same bytes.
- `compacto` holds the essentials only: a one-sentence introduction,
  communication preferences without advice, the high-severity items of the
  negative space, and the five domains with a few words each. `estandar`
  holds every section the snapshot has, with a description and a piece of
  advice per domain. The contract bounds compacto at a third of estandar's
  length; tests pin that for the sample snapshots in every language and
  variant.
- `includeNarratives` adds the narratives section only when the snapshot has
  narratives, so the prompt is byte-identical without them. The json and yaml
  artifacts still echo the query's `includeNarratives` value: the artifact
  describes the query that produced it.
- `approxTokens` is `ceil(len(systemPrompt) / 4)`, counted in Unicode
  characters of the md body: the usual rule of thumb for English text, cheap
  and deterministic. Limitation: tokenizers differ, so for other languages
  and for other models the real count may be off by a third or more.
- Limitation: compacto bounds only what the appliance writes. A snapshot
  whose high-severity negative space is long (dozens of vetoes) gives a
  compacto rendering longer than a third of estandar, because no veto is ever
  dropped.
- Limitation: free text is inserted as written. A portrait that contains
  Markdown, a line starting with `- `, or a closing tag such as
  `</portrait>` shows up as such in every variant, generic included.
- The ETag is the first 32 hex digits of the body's SHA-256, quoted: the
  same body always gets the same strong validator (RFC 9110, section 8.8.3).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import translations
from .snapshots import DOMAINS, FACETS, NEGATIVE_SPACE_LISTS

PRESETS: tuple[str, ...] = ("estandar", "compacto")
FORMATS: tuple[str, ...] = ("json", "yaml", "md", "txt")
LANGS: tuple[str, ...] = translations.LANGS
VARIANTS: tuple[str, ...] = ("claude", "gpt", "gemini", "generic")

CONTENT_TYPES: dict[str, str] = {
    "json": "application/json; charset=utf-8",
    "yaml": "application/yaml; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}

_BEHAVIOURAL = ("instructions", "metaPreferences", "negativeSpace")
_PROFILE = (
    "portrait",
    "bigFive",
    "assessments",
    "aestheticCanon",
    "mentalFrame",
    "operationalEquipment",
    "lifeContext",
    "rhythms",
    "trajectory",
)
SECTION_IDS: tuple[str, ...] = (*_BEHAVIOURAL, *_PROFILE, "narratives")
_GEMINI_ORDER = (
    *_PROFILE,
    "narratives",
    "metaPreferences",
    "negativeSpace",
    "instructions",
)

_COMPACT_SECTIONS = frozenset({"metaPreferences", "negativeSpace", "bigFive"})
_SEVERITIES = ("high", "medium", "low")
_PREFERENCE_CONTEXT_FIRST = "default"

# Pronoun spellings the renderer can restate in another language, looked up
# in the snapshot's primary language first (French "elle" is not Spanish
# "elle"), then in English. Anything else is shown as written.
_PRONOUNS: dict[str, dict[str, str]] = {
    "en": {
        "she": "feminine",
        "she/her": "feminine",
        "she/her/hers": "feminine",
        "he": "masculine",
        "he/him": "masculine",
        "he/him/his": "masculine",
    },
    "es": {"ella": "feminine", "él": "masculine", "el": "masculine"},
    "fr": {"elle": "feminine", "il": "masculine"},
    "de": {
        "sie": "feminine",
        "sie/ihr": "feminine",
        "er": "masculine",
        "er/ihm": "masculine",
    },
    "it": {"lei": "feminine", "lui": "masculine"},
    "pt": {"ela": "feminine", "ele": "masculine"},
}


@dataclass(frozen=True)
class Rendering:
    """One response body of GET /preset/{slug}, ready to send."""

    body: bytes
    content_type: str
    content_languages: tuple[str, ...]
    etag: str


# --- The document model ------------------------------------------------------


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _List:
    items: tuple[str, ...]
    lead: str = ""


@dataclass(frozen=True)
class _Subheading:
    text: str


_Block = _Paragraph | _List | _Subheading


@dataclass(frozen=True)
class _Section:
    id: str
    title: str
    blocks: tuple[_Block, ...]


@dataclass(frozen=True)
class _Prompt:
    title: str
    intro: str
    sections: dict[str, _Section]
    languages: tuple[str, ...]


# --- Public interface --------------------------------------------------------


def render(
    doc: dict,
    *,
    snapshot_id: str,
    preset: str,
    fmt: str,
    lang: str | None,
    variant: str,
    include_narratives: bool,
) -> Rendering:
    """Render a snapshot for one query of GET /preset/{slug}.

    `lang` None means the snapshot's primary language. Raise ValueError for a
    preset, format, language or variant outside its allowed set.
    """
    _check("preset", preset, PRESETS)
    _check("format", fmt, FORMATS)
    _check("variant", variant, VARIANTS)
    lang = doc["primaryLanguage"] if lang is None else lang
    _check("lang", lang, LANGS)

    prompt = _compose(doc, preset, lang, include_narratives)
    sections = _arrange(prompt.sections, variant)
    markdown = _write_prompt(prompt, sections, variant, plain=variant == "generic")

    if fmt == "md":
        text = markdown
    elif fmt == "txt":
        text = _write_prompt(prompt, sections, variant, plain=True)
    else:
        artifact = {
            "preset": preset,
            "snapshotId": snapshot_id,
            "snapshotDate": str(doc["snapshotDate"]),
            "lang": lang,
            "contentLanguages": list(prompt.languages),
            "variant": variant,
            "includeNarratives": include_narratives,
            "systemPrompt": markdown,
            "sections": [
                {
                    "id": section.id,
                    "title": section.title,
                    "text": _write_body(section, plain=variant == "generic"),
                }
                for section in sections
            ],
            "approxTokens": math.ceil(len(markdown) / 4),
        }
        text = _dump_json(artifact) if fmt == "json" else _dump_yaml(artifact)

    body = text.encode("utf-8")
    return Rendering(
        body=body,
        content_type=CONTENT_TYPES[fmt],
        content_languages=prompt.languages,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    )


def sections_present(doc: dict) -> list[str]:
    """Return the ids of the sections the snapshot has, in the gpt order.

    These are the sections of `estandar` with the narratives included, so a
    client can tell what `includeNarratives=true` would add.
    """
    prompt = _compose(doc, "estandar", doc["primaryLanguage"], True)
    return [ident for ident in SECTION_IDS if ident in prompt.sections]


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")


# --- Phrases and free text ---------------------------------------------------


@dataclass
class _Writer:
    """The phrases of one rendering, and the fallback languages it used."""

    lang: str
    primary: str
    name: str
    fallbacks: set[str] = field(default_factory=set)

    def say(self, key: str, **fields: str) -> str:
        return translations.phrase(self.lang, key, **fields)

    def labelled(self, label: str, value: str) -> str:
        return self.say("fmt.labelled", label=label, value=value)

    def lead(self, label: str) -> str:
        return self.say("fmt.lead", label=label)

    def quoted(self, text: str) -> str:
        return self.say("fmt.quoted", text=text)

    def enum(self, kind: str, value: Any) -> str:
        key = f"{kind}.{value}"
        return self.say(key) if translations.has(key) else _humanize(str(value))

    def pick(self, value: Any, *, inline: bool) -> tuple[str, str]:
        """Return a free text in the best language, and the note it needs.

        The note is "" when the text is in the requested language.
        """
        language, text = _choose(value, self.lang, self.primary)
        text = _one_line(text) if inline else _block(text)
        if not text or language == self.lang:
            return text, ""
        self.fallbacks.add(language)
        language_name = self.say(f"language.{language}")
        return text, self.say("note.onlyIn", language=language_name)

    def inline(self, value: Any) -> str:
        text, note = self.pick(value, inline=True)
        return f"{text} {note}" if note else text

    def block(self, value: Any) -> str:
        text, note = self.pick(value, inline=False)
        return f"{note}\n{text}" if note else text


def _choose(value: Any, lang: str, primary: str) -> tuple[str, str]:
    if isinstance(value, str):
        return primary, value
    if not isinstance(value, dict):
        return lang, ""

    texts = {
        code: text
        for code, text in value.items()
        if code in LANGS and isinstance(text, str) and text.strip()
    }
    for code in (lang, primary, *LANGS):
        if code in texts:
            return code, texts[code]
    return lang, ""


def _block(text: str) -> str:
    """Trim a multi-line text: no trailing spaces, at most one blank line."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def _one_line(text: str) -> str:
    # List items and headings are one line in every layout.
    return " ".join(text.split())


def _humanize(identifier: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", identifier)
    return " ".join(re.split(r"[\s_-]+", spaced)).strip().lower()


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _band(percentile: float) -> str:
    if percentile <= 30:
        return "low"
    if percentile >= 70:
        return "high"
    return "moderate"


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _layer(doc: dict, name: str) -> dict:
    return _object(_object(doc.get("layers")).get(name))


def _records(value: Any) -> Iterator[dict]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _data_map(value: Any) -> list[tuple[str, Any]]:
    """The entries of a free-key map, minus x- keys, the default one first."""
    pairs = [
        (key, item)
        for key, item in _object(value).items()
        if isinstance(key, str) and not key.startswith("x-")
    ]
    return sorted(pairs, key=lambda pair: pair[0] != _PREFERENCE_CONTEXT_FIRST)


def _person(doc: dict, w: _Writer) -> str:
    pronouns = _object(doc.get("person")).get("pronouns")
    if not isinstance(pronouns, str) or not pronouns.strip():
        return w.name

    spelling = " ".join(pronouns.lower().split())
    gender = _PRONOUNS.get(w.primary, {}).get(spelling) or _PRONOUNS["en"].get(spelling)
    shown = w.say(f"pronouns.{gender}") if gender else pronouns.strip()
    return f"{w.name} ({w.labelled(w.say('doc.pronouns'), shown)})"


# --- Composition -------------------------------------------------------------


def _compose(doc: dict, preset: str, lang: str, include_narratives: bool) -> _Prompt:
    compact = preset == "compacto"
    w = _Writer(
        lang=lang,
        primary=doc["primaryLanguage"],
        name=_one_line(str(doc["person"]["displayName"])),
    )

    sections: dict[str, _Section] = {}
    for ident, build in _BUILDERS.items():
        if compact and ident not in _COMPACT_SECTIONS:
            continue
        blocks = tuple(block for block in build(doc, w, compact) if _filled(block))
        if blocks:
            sections[ident] = _Section(ident, w.say(f"section.{ident}"), blocks)

    if include_narratives:
        narratives = _narratives(doc, w)
        if narratives:
            sections["narratives"] = _Section(
                "narratives", w.say("section.narratives"), narratives
            )

    # The instructions point at other sections, so they are written last.
    if not compact:
        sections["instructions"] = _Section(
            "instructions",
            w.say("section.instructions"),
            (_List(_instructions(doc, w, sections)),),
        )

    person = _person(doc, w)
    intro_key = "doc.introShort" if compact else "doc.intro"
    fallbacks = tuple(code for code in LANGS if code in w.fallbacks and code != lang)
    return _Prompt(
        title=w.say("doc.title", name=w.name),
        intro=w.say(intro_key, person=person, name=w.name),
        sections=sections,
        languages=(lang, *fallbacks),
    )


def _filled(block: _Block) -> bool:
    if isinstance(block, _List):
        return bool(block.items)
    return bool(block.text)


def _instructions(
    doc: dict, w: _Writer, sections: dict[str, _Section]
) -> tuple[str, ...]:
    items = [
        w.say("instructions.noQuote", name=w.name),
        w.say("instructions.tendencies", name=w.name),
    ]
    if "metaPreferences" in sections:
        items.append(w.say("instructions.followPreferences"))
    if "negativeSpace" in sections:
        title = w.quoted(sections["negativeSpace"].title)
        items.append(w.say("instructions.respectLimits", title=title))

    by_topic = _data_map(_layer(doc, "metaPreferences").get("languageByDomain"))
    key = (
        "instructions.replyLanguageByTopic"
        if by_topic
        else "instructions.replyLanguage"
    )
    items.append(w.say(key, name=w.name))
    return tuple(items)


def _meta_preferences(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    prefs = _layer(doc, "metaPreferences")
    entries: list[tuple[str, str]] = []

    lengths = [
        (w.enum("context", context), w.enum("length", length))
        for context, length in _data_map(prefs.get("lengthByContext"))
    ]
    if lengths:
        entries.append((_by_context(w, "preferences.length", lengths), ""))

    languages = [
        (w.enum("context", domain), w.enum("language", code))
        for domain, code in _data_map(prefs.get("languageByDomain"))
    ]
    if languages:
        entries.append((_by_context(w, "preferences.languageByDomain", languages), ""))

    for name, kind in (
        ("contradictionTolerance", "tolerance"),
        ("opinionAssertiveness", "assertiveness"),
    ):
        value = prefs.get(name)
        if isinstance(value, str):
            label = w.say(f"preferences.{name}")
            advice_key = f"{kind}.{value}.advice"
            advice = w.say(advice_key) if translations.has(advice_key) else ""
            entries.append((w.labelled(label, w.enum(kind, value)), advice))

    citation = prefs.get("citationStyle")
    if isinstance(citation, str):
        label = w.say("preferences.citationStyle")
        entries.append((w.labelled(label, w.enum("citation", citation)), ""))

    language = prefs.get("programmingLanguage")
    if isinstance(language, str) and language.strip():
        label = w.say("preferences.programmingLanguage")
        advice = w.say("preferences.programmingAdvice")
        entries.append((w.labelled(label, _one_line(language)), advice))

    # Compacto keeps the bare settings; estandar writes full sentences.
    if compact:
        yield _List(tuple(head for head, _ in entries))
    else:
        yield _List(tuple(f"{head}. {advice}".strip() for head, advice in entries))


def _by_context(w: _Writer, label_key: str, pairs: list[tuple[str, str]]) -> str:
    label = w.say(label_key)
    if len(pairs) == 1 and pairs[0][0] == w.enum("context", _PREFERENCE_CONTEXT_FIRST):
        return w.labelled(label, pairs[0][1])
    listed = w.say("fmt.separator").join(
        w.labelled(name, value) for name, value in pairs
    )
    return f"{label} — {listed}"


def _negative_space(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    space = _layer(doc, "negativeSpace")
    groups: dict[str, list[str]] = {severity: [] for severity in _SEVERITIES}

    for kind in NEGATIVE_SPACE_LISTS:
        for item in _records(space.get(kind)):
            severity = item.get("severity")
            if severity not in groups or (compact and severity != "high"):
                continue
            text, note = w.pick(item.get("text"), inline=True)
            if not text:
                continue
            if kind == "dislikedPhrases":
                text = w.quoted(text)
            shown = f"{text} {note}" if note else text
            groups[severity].append(w.labelled(w.say(f"negativeSpace.{kind}"), shown))

    for severity, items in groups.items():
        yield _List(tuple(items), lead=w.lead(w.say(f"severity.{severity}")))


def _big_five(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    big_five = _object(doc.get("bigFive"))
    domains = _object(big_five.get("domains"))
    scored = []
    for domain in DOMAINS:
        scores = _object(domains.get(domain))
        percentile = scores.get("percentile")
        if isinstance(percentile, (int, float)) and not isinstance(percentile, bool):
            scored.append((domain, percentile, _object(scores.get("facets"))))

    if compact:
        yield _List(
            tuple(
                f"{_domain_score(w, domain, percentile)} — "
                + w.say(f"trait.{domain}.{_band(percentile)}.short")
                for domain, percentile, _ in scored
            )
        )
        return

    instrument = big_five.get("instrument")
    explanation = w.say("bigFive.percentiles", name=w.name)
    if isinstance(instrument, str) and instrument.strip():
        label = w.say("bigFive.instrument")
        explanation = f"{w.labelled(label, _one_line(instrument))}. {explanation}"
    yield _Paragraph(explanation)

    for domain, percentile, facets in scored:
        band = _band(percentile)
        yield _Subheading(_domain_score(w, domain, percentile))
        yield _Paragraph(
            " ".join(
                (
                    w.say(f"domain.{domain}.about"),
                    w.say(f"trait.{domain}.{band}.long"),
                    w.say(f"trait.{domain}.{band}.advice"),
                )
            )
        )
        listed = [
            f"{w.say(f'facet.{facet}')} {_number(facets[facet])}"
            for facet in FACETS[domain]
            if isinstance(facets.get(facet), (int, float))
        ]
        if listed:
            label = w.say("bigFive.facets")
            yield _Paragraph(w.labelled(label, ", ".join(listed)) + ".")


def _domain_score(w: _Writer, domain: str, percentile: float) -> str:
    score = w.say(
        "bigFive.score",
        p=_number(percentile),
        band=w.say(f"band.{_band(percentile)}"),
    )
    return w.labelled(w.say(f"domain.{domain}"), score)


def _assessments(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    assessments = _object(doc.get("assessments"))
    items = []

    top = _object(assessments.get("values")).get("top")
    if isinstance(top, list) and top:
        values = ", ".join(w.enum("value", value) for value in top)
        items.append(w.labelled(w.say("assessments.values"), values))

    for name, field_name in (
        ("attachment", "style"),
        ("humour", "style"),
        ("timeOrientation", "dominant"),
    ):
        value = _object(assessments.get(name)).get(field_name)
        if isinstance(value, str):
            label = w.say(f"assessments.{name}")
            items.append(w.labelled(label, w.enum(name, value)))

    yield _List(tuple(items))


def _aesthetic_canon(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    items = []
    for item in _records(_layer(doc, "aestheticCanon").get("items")):
        work = _one_line(str(item.get("work", "")))
        if not work:
            continue
        head = w.quoted(work)
        author = item.get("author")
        if isinstance(author, str) and author.strip():
            author = _one_line(author)
            # French elides "de" before a vowel (d'Andrei); the other
            # catalogs give both keys the same text.
            vowel = author[:1].lower() in "aeiouyàâäéèêëîïôöùûü"
            key = "canon.byAuthorVowel" if vowel else "canon.byAuthor"
            head = w.say(key, work=head, author=author)
        note = w.inline(item.get("note"))
        items.append(w.labelled(head, note) if note else head)

    yield _List(tuple(items), lead=w.lead(w.say("canon.lead", name=w.name)))


def _text_layer(name: str) -> Callable[[dict, _Writer, bool], Iterator[_Block]]:
    def build(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
        yield _Paragraph(w.block(_layer(doc, name).get("text")))

    return build


def _portrait(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    yield _Paragraph(w.block(doc.get("portrait")))


def _operational_equipment(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    layer = _layer(doc, "operationalEquipment")
    tools = [
        _one_line(item)
        for item in layer.get("items") or []
        if isinstance(item, str) and item.strip()
    ]
    if tools:
        label = w.say("operationalEquipment.items")
        yield _Paragraph(w.labelled(label, ", ".join(tools)) + ".")
    yield _Paragraph(w.block(layer.get("text")))


def _rhythms(doc: dict, w: _Writer, compact: bool) -> Iterator[_Block]:
    layer = _layer(doc, "rhythms")
    chronotype = layer.get("chronotype")
    if isinstance(chronotype, str):
        label = w.say("rhythms.chronotype")
        yield _Paragraph(w.labelled(label, w.enum("chronotype", chronotype)) + ".")
    yield _Paragraph(w.block(layer.get("text")))


def _narratives(doc: dict, w: _Writer) -> tuple[_Block, ...]:
    blocks: list[_Block] = []
    for narrative in _records(doc.get("narratives")):
        title, title_note = w.pick(narrative.get("title"), inline=True)
        text, text_note = w.pick(narrative.get("text"), inline=False)
        if not (title and text):
            continue
        # One note is enough when the title and the text fall back alike.
        if text_note == title_note:
            text_note = ""
        heading = f"{title} {title_note}" if title_note else title
        blocks.append(_Subheading(heading))
        blocks.append(_Paragraph(f"{text_note}\n{text}" if text_note else text))
    return tuple(blocks)


# The order here is the order of the sections for claude, gpt and generic;
# instructions and narratives are added by _compose.
_BUILDERS: dict[str, Callable[[dict, _Writer, bool], Iterator[_Block]]] = {
    "metaPreferences": _meta_preferences,
    "negativeSpace": _negative_space,
    "portrait": _portrait,
    "bigFive": _big_five,
    "assessments": _assessments,
    "aestheticCanon": _aesthetic_canon,
    "mentalFrame": _text_layer("mentalFrame"),
    "operationalEquipment": _operational_equipment,
    "lifeContext": _text_layer("lifeContext"),
    "rhythms": _rhythms,
    "trajectory": _text_layer("trajectory"),
}


# --- Layout ------------------------------------------------------------------


def _arrange(sections: dict[str, _Section], variant: str) -> list[_Section]:
    order = _GEMINI_ORDER if variant == "gemini" else SECTION_IDS
    return [sections[ident] for ident in order if ident in sections]


def _write_prompt(
    prompt: _Prompt, sections: list[_Section], variant: str, *, plain: bool
) -> str:
    parts = [prompt.title if plain else f"# {prompt.title}", prompt.intro]
    for section in sections:
        heading = section.title.upper() if plain else f"## {section.title}"
        text = f"{heading}\n\n{_write_body(section, plain=plain)}"
        if variant == "claude":
            text = f"<{section.id}>\n{text}\n</{section.id}>"
        parts.append(text)
    # Free text never ends in a newline (see _block), so this is the only one.
    return "\n\n".join(parts) + "\n"


def _write_body(section: _Section, *, plain: bool) -> str:
    return "\n\n".join(_write_block(block, plain=plain) for block in section.blocks)


def _write_block(block: _Block, *, plain: bool) -> str:
    if isinstance(block, _Subheading):
        return block.text if plain else f"### {block.text}"
    if isinstance(block, _List):
        marker = "• " if plain else "- "
        lines = [block.lead] if block.lead else []
        lines += [marker + item for item in block.items]
        return "\n".join(lines)
    return block.text


# --- Artifact serialisation --------------------------------------------------


def _dump_json(artifact: dict) -> str:
    return json.dumps(artifact, ensure_ascii=False, indent=2) + "\n"


class _ArtifactDumper(yaml.SafeDumper):
    """The safe dumper, with multi-line strings written as literal blocks.

    A literal block keeps the prompt readable in the YAML artifact. PyYAML
    falls back to a quoted style by itself when a string cannot be written as
    a block, and it quotes scalars such as `no`, `null` or `1e3`, so every
    value reads back as the same string.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ArtifactDumper.add_representer(str, _represent_str)


def _dump_yaml(artifact: dict) -> str:
    return yaml.dump(
        artifact,
        Dumper=_ArtifactDumper,
        allow_unicode=True,
        sort_keys=False,
        width=88,
    )
