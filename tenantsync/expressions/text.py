"""Text transformations that must match .NET rather than Python: diacritics, title case, casing.

- NormalizeDiacritics uses exactly the documented table (functions-for-customizing-application-data,
  NormalizeDiacritics): ``ø → oe``, ``æ → ae``, ``ß → ss``, ``ł → l``, letters with combining
  macrons/lines below included. Characters the table does not list are left alone (plain
  "strip every accent" would turn ``ø`` into ``ø`` and ``ł`` into ``ł``, unlike the service).
  Input is NFC-normalised first so decomposed and precomposed spellings behave the same.
- ToLower/ToUpper use the invariant culture's *simple* case mapping (one character in, one out:
  ``ß`` stays ``ß`` in upper case, ``İ`` lowers to ``i``) unless a Turkish or Azeri culture
  (``tr``/``az``) asks for dotted/dotless i.
- Title case follows .NET ``TextInfo.ToTitleCase`` (word separators are the Unicode space,
  control, format, punctuation and symbol categories; an apostrophe continues a word; a letter
  after a digit starts a new word, so ``3rd`` → ``3Rd`` as in .NET).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# (characters, replacement) rows of the documented table, lower and upper case.
_DIACRITIC_ROWS = (
    ("ä à â ã å á ą ă ā ā́ ā̀ ā̂ ā̃ ǟ ā̈ ǡ a̱ å̄", "a"),
    ("Ä À Â Ã Å Á Ą Ă Ā Ā́ Ā̀ Ā̂ Ā̃ Ǟ Ā̈ Ǡ A̱ Å̄", "A"),
    ("æ ǣ", "ae"), ("Æ Ǣ", "AE"),
    ("ç č ć c̄ c̱", "c"), ("Ç Č Ć C̄ C̱", "C"),
    ("ď d̄ ḏ", "d"), ("Ď D̄ Ḏ", "D"),
    ("ë è é ê ę ě ė ē ḗ ḕ ē̂ ē̃ ê̄ e̱ ë̄ e̊̄", "e"),
    ("Ë È É Ê Ę Ě Ė Ē Ḗ Ḕ Ē̂ Ē̃ Ê̄ E̱ Ë̄ E̊̄", "E"),
    ("ğ ḡ g̱", "g"), ("Ğ Ḡ G̱", "G"),
    ("ï î ì í ı ī ī́ ī̀ ī̂ ī̃ i̱", "i"), ("Ï Î Ì Í İ Ī Ī́ Ī̀ Ī̂ Ī̃ I̱", "I"),
    ("ľ ł l̄ ḹ ḻ", "l"), ("Ł Ľ L̄ Ḹ Ḻ", "L"),
    ("ñ ń ň n̄ ṉ", "n"), ("Ñ Ń Ň N̄ Ṉ", "N"),
    ("ö ò ő õ ô ó ō ṓ ṑ ō̂ ō̃ ȫ ō̈ ǭ ȭ ȱ o̱", "o"),
    ("Ö Ò Ő Õ Ô Ó Ō Ṓ Ṑ Ō̂ Ō̃ Ȫ Ō̈ Ǭ Ȭ Ȱ O̱", "O"),
    ("ø ø̄ œ̄", "oe"), ("Ø Ø̄ Œ̄", "OE"),
    ("ř r̄ ṟ ṝ", "r"), ("Ř R̄ Ṟ Ṝ", "R"),
    ("ß", "ss"),
    ("š ś ș ş s̄ s̱", "s"), ("Š Ś Ș Ş S̄ S̱", "S"),
    ("ť ț t̄ ṯ", "t"), ("Ť Ț T̄ Ṯ", "T"),
    ("ü ù û ú ů ű ū ū́ ū̀ ū̂ ū̃ u̇̄ ǖ ṻ ṳ̄ u̱", "u"),
    ("Ü Ù Û Ú Ů Ű Ū Ū́ Ū̀ Ū̂ Ū̃ U̇̄ Ǖ Ṻ Ṳ̄ U̱", "U"),
    ("ÿ ý ȳ ȳ́ ȳ̀ ȳ̃ y̱", "y"), ("Ÿ Ý Ȳ Ȳ́ Ȳ̀ Ȳ̃ Y̱", "Y"),
    ("ź ž ż z̄ ẕ", "z"), ("Ź Ž Ż Z̄ Ẕ", "Z"),
)

DIACRITICS: dict[str, str] = {
    unicodedata.normalize("NFC", chars): plain
    for row, plain in _DIACRITIC_ROWS for chars in row.split()
}
# Longest first, so that "ā" followed by a combining acute is replaced as one unit.
_DIACRITIC_RE = re.compile("|".join(map(re.escape, sorted(DIACRITICS, key=len, reverse=True))))


def normalize_diacritics(text: str) -> str:
    """Replace the documented diacritical characters with their plain equivalents."""
    if text.isascii():
        return text
    return _DIACRITIC_RE.sub(lambda m: DIACRITICS[m.group()], unicodedata.normalize("NFC", text))


def _simple_lower(char: str) -> str:
    lowered = char.lower()
    if len(lowered) == 1:
        return lowered
    return "i" if char == "\u0130" else char  # İ: UnicodeData's simple mapping is plain i


def _simple_upper(char: str) -> str:
    raised = char.upper()
    return raised if len(raised) == 1 else char  # ß, ŉ, ligatures have no one-character upper case


def _turkic(culture: str | None) -> bool:
    return culture is not None and culture.split("-")[0].lower() in ("tr", "az")


def to_lower(text: str, culture: str | None = None) -> str:
    if text.isascii() and not _turkic(culture):
        return text.lower()
    if _turkic(culture):
        text = text.replace("I", "\u0131").replace("\u0130", "i")
    return "".join(map(_simple_lower, text))


def to_upper(text: str, culture: str | None = None) -> str:
    if text.isascii() and not _turkic(culture):
        return text.upper()
    if _turkic(culture):
        text = text.replace("i", "\u0130").replace("\u0131", "I")
    return "".join(map(_simple_upper, text))


_CULTURE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def check_culture(culture: str) -> None:
    """RFC 4646 shape (``en-US``, ``tr``, ``sr-Latn-RS``); anything else is refused like .NET does."""
    if not _CULTURE.fullmatch(culture):
        raise ValueError(f"{culture!r} is not a culture name (expected e.g. en-US)")


_SEPARATOR_CATEGORIES = frozenset(
    ["Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"])
_LETTER_CATEGORIES = frozenset(["Lu", "Ll", "Lt", "Lm", "Lo"])


@lru_cache(maxsize=4096)
def _category(char: str) -> str:
    return unicodedata.category(char)


def _title_letter(char: str) -> str:
    titled = char.title()
    return titled if len(titled) == 1 else _simple_upper(char)


def title_case(text: str) -> str:
    """.NET ``ToTitleCase`` of an already lower-cased text (PCase lower-cases first, which is
    why .NET's "leave all-capital words alone" rule never applies: ``PABLO`` → ``Pablo``)."""
    out: list[str] = []
    in_word = False
    for char in text:
        category = _category(char)
        if in_word:
            if category in _SEPARATOR_CATEGORIES and char != "'":
                in_word = False
            out.append(char)
        elif category in _LETTER_CATEGORIES:
            out.append(_title_letter(char))
            in_word = True
        else:
            out.append(char)
    return "".join(out)


def title_case_with(text: str, separators: str) -> str:
    """PCase with explicit separators: only those characters start a new word."""
    out: list[str] = []
    start = True
    for char in text:
        if char in separators:
            out.append(char)
            start = True
        else:
            out.append(_title_letter(char) if start else char)
            start = False
    return "".join(out)
