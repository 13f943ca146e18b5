"""Reading the seed documents: visible text, numeric tokens, and which tokens the dataset
accounts for.

The seeds are HTML-ish text files. Their *visible text* is the file with HTML tags (and the
link targets inside them) removed, HTML entities decoded, bare URLs and Markdown link targets
removed, and whitespace collapsed to single spaces. A *numeric token* is a run of digits with
optional inner ``.``/``,`` groups (``1,873``, ``10.6``, ``01.12``); digits glued to letters
count too (``IMX989`` → ``989``, ``H1`` → ``1``), so nothing hides inside a word.

:func:`uncovered_tokens` lists the tokens of a seed that neither a claim (or segment) quote
accounts for — the token lies inside the quote and its value is one of the record's numbers —
nor an ``ignored`` entry covers (the token lies inside that entry's context).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .data import MarketData

_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_MD_LINK_TARGET = re.compile(r"\]\((?:https?://)[^)]*\)")
_URL = re.compile(r"https?://[^\s<>\"\])]+")
_WS = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def normalise_ws(text: str) -> str:
    """Collapse every run of whitespace (including no-break spaces) to one space."""
    return _WS.sub(" ", text).strip()


def visible_text(raw: str) -> str:
    """The seed's visible text (see the module docstring)."""
    text = _TAG.sub(" ", raw)
    text = html.unescape(text)
    text = _MD_LINK_TARGET.sub("]", text)
    text = _URL.sub(" ", text)
    return normalise_ws(text)


@dataclass(frozen=True)
class Token:
    """A numeric token of a seed's visible text."""

    text: str
    start: int
    end: int

    @property
    def value(self) -> float:
        return float(self.text.replace(",", "")) if "," in self.text else float(self.text)

    def snippet(self, text: str, width: int = 40) -> str:
        return text[max(0, self.start - width):self.end + width]


def numeric_tokens(text: str) -> list[Token]:
    """All numeric tokens of ``text`` with their positions."""
    return [Token(m.group(), m.start(), m.end()) for m in _NUMBER.finditer(text)]


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append((i, i + len(needle)))
        i = text.find(needle, i + 1)
    return out


def uncovered_tokens(data: MarketData, source: str, raw: str) -> list[tuple[Token, str]]:
    """Tokens of seed ``source`` (raw file text ``raw``) that the dataset does not account
    for, each with a snippet of text around it. Empty when the dataset covers the seed."""
    text = visible_text(raw)
    records = [(normalise_ws(c.quote), c.numbers) for c in data.claims if c.source == source]
    for s in data.segments:
        if s.source == source:
            records += [(normalise_ws(q), s.numbers) for q in (s.quote, s.list_item) if q]
    covered_spans: list[tuple[int, int, tuple[float, ...]]] = []
    for quote, numbers in records:
        for a, b in _spans(text, quote):
            covered_spans.append((a, b, numbers))
    ignored_spans: list[tuple[int, int, str]] = []
    for ig in data.ignored:
        if ig.source == source:
            for a, b in _spans(text, normalise_ws(ig.context)):
                ignored_spans.append((a, b, ig.token))
    out = []
    for tok in numeric_tokens(text):
        ok = any(a <= tok.start and tok.end <= b and any(abs(tok.value - n) < 1e-9
                                                         for n in numbers)
                 for a, b, numbers in covered_spans)
        ok = ok or any(a <= tok.start and tok.end <= b and tok.text == t
                       for a, b, t in ignored_spans)
        if not ok:
            out.append((tok, tok.snippet(text)))
    return out


def quote_found(raw: str, quote: str) -> bool:
    """Is ``quote`` in the seed, whitespace-normalised (raw file or visible text)?"""
    q = normalise_ws(quote)
    return q in normalise_ws(raw) or q in visible_text(raw)
