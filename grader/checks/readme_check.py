"""``problem-statement``: the README describes the problem, judged by its structure rather than one pattern.

Reads the root README (``README.md``, ``README.rst``, ``README.txt``, any case; else the one nearest the
root), its headings (Markdown ``#`` and underlined headings) and the prose under each (code blocks,
tables, images and badges do not count). A heading announces the problem when it says Problem, Objective,
Goal, Business, Motivation, Purpose or Use case anywhere, or is about an Overview, Introduction, About,
Background, Description, Context or Summary ("Project overview", not "Architecture overview"); numbers,
emoji and emphasis around it are ignored.

Passes when such a section holds at least ``min_words`` words of prose or, with no such section, the
opening paragraphs (before the first section) do. Partial (``partial_credit``) when the heading is there
but nearly empty, or only a sentence introduces the project. Fails without a README or any description.

Example::

    - {id: problem-statement, title: The README states the problem, type: problem-statement, points: 2}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.checks.repository_files import depth_then_name, repository_files
from grader.models import CheckOutcome

README_NAMES = ("README.md", "README.markdown", "README.rst", "README.txt", "README")
# anywhere in a heading: "Business problem", "1. Problem statement 🎯", "Project goals"
PROBLEM_HEADING = re.compile(r"\b(problem|objectives?|goals?|business|motivation|purpose|use[ -]case)\b")
# only as what the heading is about: "Overview", "Project overview", "About the project" (not "Architecture overview")
GENERAL_HEADING = re.compile(r"^(the\s+)?(project\s+|capstone\s+)?(overview|introduction|intro|about|background|"
                             r"description|context|summary)\b")
ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
UNDERLINE = re.compile(r"^\s{0,3}(=+|-+|~+|\^+|\*+)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
NOT_PROSE = re.compile(r"^\s*(\||!\[|<img|<p|</?div|\[!\[|```|~~~|>\s*\[!|<!--|---+$|===+$)")
WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'-]+")


class Params(CheckParams):
    min_words: int = Field(25, ge=1, description="fewest words of prose that count as a description")
    partial_credit: float = Field(0.5, ge=0, le=1, description="share of the points for a problem heading "
                                  "with too little under it")


@dataclass(frozen=True)
class Section:
    heading: str  # "" for the text before the first heading
    level: int
    prose_words: int
    line: int


def sections(text: str) -> list[Section]:
    """The README's sections in order, each with how many words of prose it holds (subsections included)."""
    lines = text.splitlines()
    headings: list[tuple[int, str, int]] = []  # (line index, heading, level)
    in_code = False
    for index, line in enumerate(lines):
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        atx = ATX.match(line)
        if atx:
            headings.append((index, atx.group(2), len(atx.group(1))))
        elif index > 0 and UNDERLINE.match(line) and lines[index - 1].strip() and not ATX.match(lines[index - 1]) \
                and not NOT_PROSE.match(lines[index - 1]):
            headings.append((index - 1, lines[index - 1].strip(), 1 if line.strip()[0] == "=" else 2))
    words = _prose_words_per_line(lines)
    result = [Section("", 0, sum(words[:headings[0][0]] if headings else words), 1)]
    for number, (index, heading, level) in enumerate(headings):
        end = next((i for i, _, lv in headings[number + 1:] if lv <= level), len(lines))
        body = sum(words[index + 1:end]) - (words[index + 1] if index + 1 < len(lines) and
                                            UNDERLINE.match(lines[index + 1]) else 0)
        result.append(Section(heading, level, max(0, body), index + 1))
    return result


def _prose_words_per_line(lines: list[str]) -> list[int]:
    counts, in_code = [], False
    for line in lines:
        if FENCE.match(line):
            in_code = not in_code
            counts.append(0)
            continue
        if in_code or ATX.match(line) or NOT_PROSE.match(line) or UNDERLINE.match(line):
            counts.append(0)
            continue
        text = re.sub(r"\]\([^)]*\)|https?://\S+|`[^`]*`", " ", line)
        counts.append(len(WORD.findall(text)))
    return counts


def is_problem_heading(heading: str) -> bool:
    """A heading that announces the problem (numbers, emoji and emphasis around it ignored)."""
    words = re.sub(r"[^a-z\s-]", " ", heading.lower()).strip()
    return bool(PROBLEM_HEADING.search(words) or GENERAL_HEADING.match(words))


def find_readme(ctx: CheckContext) -> str | None:
    """The root README, else the one nearest the root (a monorepo's ``service/README.md``)."""
    root_files = [p.name for p in sorted(ctx.submission_dir.iterdir()) if p.is_file()]
    for wanted in README_NAMES:
        match = next((name for name in root_files if name.lower() == wanted.lower()), None)
        if match:
            return match
    nested = sorted((f for f in repository_files(ctx.submission_dir) if f.rsplit("/", 1)[-1].lower() in
                     {n.lower() for n in README_NAMES}), key=depth_then_name)
    return nested[0] if nested else None


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    name = find_readme(ctx)
    if name is None:
        return CheckOutcome.failed("no README in the repository: add README.md with a \"## Problem statement\" "
                                   "section that says what is predicted, for whom and why")
    readme = ctx.submission_dir / name
    found = sections(ctx.read_text(readme))
    evidence = {"readme": name, "headings": [s.heading[:80] for s in found if s.heading][:30]}
    candidates = [s for s in found if s.heading and is_problem_heading(s.heading)]
    good = next((s for s in candidates if s.prose_words >= params.min_words), None)
    if good is not None:
        return CheckOutcome.passed(f"{name}:{good.line}: \"{good.heading[:60]}\" describes the problem "
                                   f"({good.prose_words} words)", section=good.heading[:80], **evidence)
    opening = _opening(found)
    if opening >= params.min_words:
        return CheckOutcome.passed(f"{name}: the opening paragraphs describe the project ({opening} words; no "
                                   "Problem/Overview heading)", **evidence)
    if candidates:
        best = max(candidates, key=lambda s: s.prose_words)
        return CheckOutcome.partial(params.partial_credit,
                                    f"{name}:{best.line}: \"{best.heading[:60]}\" has only {best.prose_words} words "
                                    f"of prose (at least {params.min_words} expected): say what is predicted, from "
                                    "which data, for whom and why it matters", **evidence)
    if opening >= max(8, params.min_words // 3):
        return CheckOutcome.partial(params.partial_credit,
                                    f"{name}: only a short introduction ({opening} words) and no section that states "
                                    "the problem: add a \"## Problem statement\" section that says what is predicted, "
                                    "from which data, for whom and why it matters", **evidence)
    return CheckOutcome.failed(f"{name} has no section that states the problem (a heading such as Problem statement, "
                               "Overview or Objective) and its opening has under "
                               f"{params.min_words} words of prose: add a \"## Problem statement\" section that says "
                               "what is predicted, for whom and why", **evidence)


def _opening(found: list[Section]) -> int:
    """Prose before the first section, counting the body of a lone title heading (``# My project`` + intro)."""
    opening = found[0].prose_words
    first = found[1] if len(found) > 1 else None
    if first is not None and first.level == 1 and not any(s.level == 1 for s in found[2:]):
        following = next((s for s in found[2:]), None)
        # the title's own paragraphs: its body minus its subsections'
        nested = sum(s.prose_words for s in found[2:] if s.level == (following.level if following else 0))
        opening += max(0, first.prose_words - nested)
    return opening


CHECK = CheckType(name="problem-statement", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
