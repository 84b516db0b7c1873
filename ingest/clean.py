"""Text normalisation: raw extracted text -> lines of canonical text. Pure functions."""

from __future__ import annotations

import html
import re
import unicodedata

# Superscript digits mark footnotes ("169 Member States¹"). NFKC would turn them into
# ordinary digits that fuse with the preceding number or word ("States1", "24,30"),
# corrupting both quotes and keyword search, so they are kept as superscripts.
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPERSCRIPT_RUN = re.compile(f"[{_SUPERSCRIPTS}]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_HYPHENATED_EOL = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[a-zà-öø-ÿ])")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def normalize_unicode(text: str) -> str:
    """NFKC (ligatures, full-width forms, odd spaces) except footnote superscripts."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    out: list[str] = []
    last = 0
    for match in _SUPERSCRIPT_RUN.finditer(text):
        out.append(unicodedata.normalize("NFKC", text[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(out)


def dehyphenate(text: str) -> str:
    """Join words split by a hyphen at the end of a line ("migra-\\ntion" -> "migration")."""
    return _HYPHENATED_EOL.sub("", text)


def collapse_spaces(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


_TAG = re.compile(r"<[^>\n]{0,300}>")
_BLOCK_BREAK = re.compile(r"</p>\s*<p[^>]*>|<br\s*/?>|</?li[^>]*>|</?ul[^>]*>|</?ol[^>]*>", re.I)
_HTML_MARKUP = re.compile(r"</?(p|ul|ol|li|br|td|tr|th|table|span|div|b|i|em|strong)\b[^>]*>", re.I)
_BULLET_INLINE = re.compile(r"\s+•\s+")


def html_to_lines(line: str) -> list[str]:
    """Agenda tables carry HTML paragraphs and lists; turn them into readable lines."""
    if not _HTML_MARKUP.search(line) and "&" not in line:
        return [line]
    text = _BLOCK_BREAK.sub("\n", line)
    text = _TAG.sub(" ", text) if _HTML_MARKUP.search(text) else text
    text = html.unescape(text)
    pieces: list[str] = []
    for part in text.split("\n"):
        bullets = _BULLET_INLINE.split(part)
        pieces.append(bullets[0])
        pieces.extend("• " + b for b in bullets[1:])
    return pieces


def table_row_to_text(line: str) -> str:
    """Tab-separated table cells become one readable row."""
    if "\t" not in line:
        return line
    cells = [c.strip() for c in line.split("\t")]
    return " | ".join(c for c in cells if c)


_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]*)\)")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>])")
_MD_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_MD_EMPH = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+")


def strip_markdown(line: str) -> str:
    """Remove inline markdown so quotes read as printed text."""
    line = _MD_HEADING.sub("", line)
    line = _MD_LINK.sub(lambda m: m.group(1) if m.group(1) else m.group(2), line)
    line = _MD_AUTOLINK.sub(r"\1", line)
    line = _MD_STRONG.sub(lambda m: m.group(1) or m.group(2), line)
    line = _MD_EMPH.sub(r"\1", line)
    line = line.replace("**", "")
    line = _MD_ESCAPE.sub(r"\1", line)
    if line.startswith("* "):
        line = "• " + line[2:]
    return line
