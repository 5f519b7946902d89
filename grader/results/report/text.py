"""Text helpers every human-facing renderer shares: make submission-derived text inert, format numbers.

Anything a submission produced (output, messages, file names, its own source string) can carry terminal
escape sequences or control characters. Rendered raw they could hide text, fake hyperlinks (OSC 8),
reorder what a reviewer reads (bidi overrides) or break the encoding of the file we write.
"""

from __future__ import annotations

import re

# Escape sequences are removed whole, so their parameters (colours, hyperlink targets) never show as text.
# String sequences (OSC, DCS, ...) must be terminated on the same line; an unterminated one falls through to
# the two-character rule below, which drops only the introducer and keeps whatever followed visible.
_ESCAPE_SEQUENCE = re.compile(
    r"""
      \x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)        # OSC ... BEL or ST (titles, OSC 8 hyperlinks)
    | \x1b[P^_X][^\x1b\n]*\x1b\\                 # DCS, PM, APC, SOS ... ST
    | \x1b\[[0-?]*[\x20-/]*[@-~]                 # CSI (colours, cursor movement, erase)
    | \x1b[\x20-/]*[0-~]                         # two-character and nF escapes
    | \x9b[0-?]*[\x20-/]*[@-~]                   # 8-bit CSI
    | \x9d[^\x07\x9c\n]*(?:\x07|\x9c)            # 8-bit OSC
    """,
    re.VERBOSE,
)
# C0 controls except tab and newline, DEL, C1 controls, and the bidi embedding/override/isolate marks that
# can make text display in a different order than it is stored ("Trojan Source").
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(s: str) -> str:
    """Strip terminal escape sequences and control characters; keep tabs and newlines.

    Carriage returns become newlines (progress bars stay readable instead of overwriting themselves) and
    lone surrogates become U+FFFD so the result always encodes as UTF-8.
    """
    if not s:
        return ""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _ESCAPE_SEQUENCE.sub("", s)
    s = _CONTROL.sub("", s)
    return _LONE_SURROGATE.sub("\ufffd", s)


def tail(s: str, limit: int) -> tuple[str, int]:
    """The last ``limit`` characters of ``s``, starting at a line boundary when one is near, and how many
    characters were left out."""
    if len(s) <= limit:
        return s, 0
    kept = s[-limit:]
    newline = kept.find("\n")
    # Starting mid-line reads as garbage; drop the partial first line unless that would lose a lot.
    if 0 <= newline < limit // 10:
        kept = kept[newline + 1 :]
    return kept, len(s) - len(kept)


def format_points(value: float) -> str:
    """Points with one to two decimals: ``4.0``, ``2.5``, ``0.67``."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def format_percent(part: float, whole: float) -> str:
    """``part`` as a whole-number percentage of ``whole``; ``-`` when there is nothing to divide by."""
    if whole <= 0:
        return "-"
    return f"{100 * part / whole:.0f}%"
