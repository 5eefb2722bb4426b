"""Reading and writing the pieces of an Obsidian-style Markdown note: front matter, wikilinks, tags, names.

Why these rules:
- Front matter is YAML between two ``---`` lines at the very top; it is read with the safe loader
  (never a full one: a vault is untrusted input) and written with the safe dumper (note text may
  hold quotes, colons, ``---`` or newlines); libyaml's versions of both when installed. Dates YAML would turn into date objects are read back as
  ISO strings.
- ``[[target]]``, ``[[target|alias]]``, ``[[target#heading|alias]]`` are links; ``![[embed]]`` is an
  embedded file, not a link. ``#tag`` is a tag when Obsidian would read it as one: not a heading
  (``# Title``), not inside code, not a colour (``#fff`` is a tag in Obsidian too, so it counts), not
  purely numeric, not in a URL or a wikilink's heading part.
- File names are readable titles, made safe for every file system Obsidian runs on (Windows forbids
  ``\\ / : * ? " < > |`` and names like ``CON``; Obsidian itself forbids ``# ^ [ ] |`` in link
  targets), unique without regard to case (macOS and Windows fold case).
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Any

import yaml

MAX_STEM = 80
# libyaml when PyYAML has it: ten times faster than the pure-Python parser (2,000 files in a vault)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_HASHTAG = re.compile(r"(?<![\w/#&\[\]])#([\w/-]*[^\W\d][\w/-]*|[\w/-]*[_/-][\w/-]*)", re.UNICODE)
_BAD_NAME = re.compile(r'[\\/:*?"<>|#^\[\]\x00-\x1f\x7f]+')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_TAG_BAD = re.compile(r"[^\w/-]+", re.UNICODE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


class FrontMatterError(ValueError):
    """The front matter cannot be read; the message says where and why, for the person."""


def split_front_matter(text: str) -> tuple[dict[str, Any], str, bool]:
    """(front matter, body, had front matter). No front matter: ({}, text, False).

    Raises FrontMatterError for an unterminated block, invalid YAML, or YAML that is not a mapping.
    """
    text = text.lstrip("\ufeff")
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        return {}, text, False
    end = re.search(r"^(---|\.\.\.)[ \t]*$", rest, re.M)
    if end is None:
        raise FrontMatterError("the front matter starts with --- but never ends (no closing --- line)")
    raw, body = rest[:end.start()], rest[end.end():]
    body = body[1:] if body.startswith("\n") else body
    try:
        data = yaml.load(raw, Loader=_LOADER) if raw.strip() else {}  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(f"the front matter is not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError(f"the front matter must be 'key: value' lines, not a {type(data).__name__}")
    return {str(k): _plain(v) for k, v in data.items()}, body, True


def _plain(value: Any) -> Any:
    """YAML dates and times as ISO strings, recursively (a timestamp field must stay text)."""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def dump_front_matter(data: dict[str, Any]) -> str:
    """The ``---`` block for ``data`` (safe_dump: quoted wherever YAML needs it)."""
    body = yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=1000)
    return "---\n" + body + "---\n"


def without_code(text: str) -> str:
    """The text with fenced and inline code blanked out (tags and links there are just text)."""
    return _INLINE_CODE.sub(" ", _FENCE.sub(" ", text))


def wikilinks(text: str) -> list[tuple[str, str]]:
    """(target, alias) of every ``[[...]]`` outside code, embeds excluded; heading/block parts removed."""
    out = []
    for bang, inner in WIKILINK.findall(without_code(text)):
        if bang:
            continue
        target, _, alias = inner.partition("|")
        target = re.split(r"[#^]", target, maxsplit=1)[0].strip()
        if target:
            out.append((target, alias.strip()))
    return out


def hashtags(text: str) -> list[str]:
    """The ``#tags`` of a text as Obsidian reads them (without '#'), in order, once each."""
    clean = WIKILINK.sub(" ", without_code(text))
    clean = re.sub(r"\bhttps?://\S+", " ", clean)
    return list(dict.fromkeys(m.group(1).strip("/") for m in _HASHTAG.finditer(clean) if m.group(1).strip("/")))


def first_heading(text: str) -> str:
    """The text of the body's first line when it is a Markdown heading, else ""."""
    for line in text.splitlines():
        if line.strip():
            m = _HEADING.match(line)
            return m.group(1).strip() if m else ""
    return ""


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def safe_stem(title: str) -> str:
    """A readable, file-system-safe file name (without .md) for a title; "Untitled" when nothing is left."""
    text = unicodedata.normalize("NFC", title)
    m = _HEADING.match(text)
    text = m.group(1) if m else text
    text = " ".join(_BAD_NAME.sub(" ", text).split()).strip(" .")
    if len(text) > MAX_STEM:
        cut = text[:MAX_STEM]
        text = (cut.rsplit(" ", 1)[0] if " " in cut[MAX_STEM // 2:] else cut).strip(" .")
    if not text:
        return "Untitled"
    if text.split(".")[0].lower() in _RESERVED:
        text = f"{text} (note)"
    return text


def unique_stems(titles: list[str]) -> list[str]:
    """File names for titles, in order: repeats become "Title (2)", "Title (3)" (case-insensitively)."""
    taken: set[str] = set()
    out = []
    for title in titles:
        base = safe_stem(title)
        stem, n = base, 1
        while stem.casefold() in taken:
            n += 1
            stem = f"{base} ({n})"
        taken.add(stem.casefold())
        out.append(stem)
    return out


def base_stem(stem: str) -> str:
    """A file name without the " (2)" a repeat got: what the title looked like."""
    return re.sub(r" \(\d+\)$", "", stem)


def link_text(title: str) -> str:
    """A title usable as the shown text of a wiki-link: no ``[``, ``]``, ``|`` or line breaks."""
    text = " ".join(title.split())
    return text.translate(str.maketrans("[]|", "()/")) or "note"


def obsidian_tag(tag: str) -> str:
    """A tag Obsidian accepts: no spaces (they become '-'), only letters, digits, '_', '-', '/'."""
    cleaned = _TAG_BAD.sub("-", "-".join(tag.strip().lstrip("#").split())).strip("-/")
    if cleaned and cleaned.replace("_", "").replace("-", "").replace("/", "").isdigit():
        cleaned = "t" + cleaned  # Obsidian ignores purely numeric tags
    return cleaned


def wiki_link(stem: str, title: str) -> str:
    return f"[[{stem}|{link_text(title)}]]"


def str_list(value: Any, name: str) -> list[str]:
    """A front matter list field: a YAML list, or one string ("a, b" or "a b" for tags). ValueError if neither."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(",") if "," in value else value.split() if name == "tags" else [value]
        return [p.strip().lstrip("#") if name == "tags" else p.strip() for p in parts if p.strip()]
    if isinstance(value, list) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in value):
        return [str(x).strip().lstrip("#") if name == "tags" else str(x).strip() for x in value if str(x).strip()]
    raise ValueError(f"'{name}' must be a list of words or one line of text")
