"""``report.md``: what the candidate sees.

Only public checks are named. Hidden checks are summarised as a count and points so a candidate knows
they exist and how they did, without learning what they test. No evidence and no service logs: those can
echo hidden checks' inputs; a failed step's cause and last lines are shown (the candidate's own command,
which never sees hidden data), as are those of a service that never became ready (no request reached it).
Every piece of text goes through :func:`escape_md`, because messages and the submission's own strings come
from the submission and must not break a table or smuggle in HTML.
"""

from __future__ import annotations

import re

from grader.models import CheckResult, Report, Status, Visibility
from grader.results.report.environment import environment_lines
from grader.results.report.text import clean_text, format_percent, format_points

FILENAME = "report.md"

STATUS_LABELS = {
    Status.passed: "✅ pass",
    Status.failed: "❌ fail",
    Status.error: "⚠️ error",
    Status.skipped: "⏭️ skip",
    Status.manual: "📝 needs review",
}
# HTML entities for what could end a table cell, open a code span or start HTML; backslash escapes for the
# inline markup that could otherwise turn a message into a link or emphasis. Entities are never decoded
# inside code spans, so escaped text is never placed in one.
_MARKDOWN_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "|": "&#124;",
        "`": "&#96;",
        "\\": "\\\\",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
    }
)
_LINE_BREAKS = re.compile(r"\n+")


def escape_md(text: str | None) -> str:
    """Make text safe for one line of Markdown, including a table cell: cleaned, escaped, newlines as <br>."""
    escaped = clean_text(text or "").strip().translate(_MARKDOWN_ESCAPES)
    return _LINE_BREAKS.sub("<br>", escaped)


def render(report: Report) -> str:
    """The candidate's report as GitHub-flavoured Markdown."""
    lines = _header(report)
    public = [c for c in report.checks if c.visibility is Visibility.public]
    for section in _sections(public):
        lines += _section(report.sections.get(section, section), [c for c in public if c.section == section])
    lines += _what_went_wrong(report)
    lines += environment_lines(report, escape_md)
    lines += _hidden_summary([c for c in report.checks if c.visibility is Visibility.hidden])
    lines += _footer(report)
    return "\n".join(lines).rstrip("\n") + "\n"


def _header(report: Report) -> list[str]:
    title = report.lab.get("title") or report.lab.get("id") or "Lab"
    lines = [f"# {escape_md(title)}", ""]
    lab_line = f"Lab {escape_md(report.lab.get('id', ''))}"
    if report.lab.get("version"):
        lab_line += f", version {escape_md(report.lab['version'])}"
    lines += [lab_line, ""]
    score = f"{format_points(report.score)} / {format_points(report.max_score)}"
    if report.outcome == "error":
        lines += [f"**Result: NOT GRADED** (the grader could not finish). Score so far: {score}.", ""]
        if report.error:
            lines += [f"> {escape_md(report.error)}", ""]
        return lines
    verdict = "PASSED" if report.passed else "NOT PASSED"
    percent = format_percent(report.score, report.max_score)
    mark = format_percent(report.pass_mark, 1)
    lines += [f"**Result: {verdict}**. Score: **{score}** ({percent}); pass mark {mark}.", ""]
    lines += _missed_required(report)
    if report.manifest.get("error"):  # graded with the lab's defaults: the candidate must learn why
        lines += [f"> {escape_md(report.manifest['error'])}", ""]
    manual = [c for c in report.checks if c.status is Status.manual]
    if manual:
        noun = "item awaits" if len(manual) == 1 else "items await"
        lines += [f"{len(manual)} {noun} a reviewer (up to {format_points(report.review_points)} more points, "
                  "not included in this score).", ""]
    return lines


def _missed_required(report: Report) -> list[str]:
    """Required checks that did not pass: they decide the verdict whatever the score. Hidden ones are counted,
    not named."""
    if not report.missed_required:
        return []
    by_id = {check.id: check for check in report.checks}
    public = [by_id[i] for i in report.missed_required if i in by_id and by_id[i].visibility is Visibility.public]
    hidden = len(report.missed_required) - len(public)
    named = [f"**{escape_md(check.id)}** ({escape_md(check.title)})" for check in public]
    if hidden:
        named.append(f"{hidden} hidden check{'s' if hidden > 1 else ''}")
    return [f"A pass requires these checks, which did not pass: {', '.join(named)}.", ""]


def _sections(checks: list[CheckResult]) -> list[str]:
    """Section ids in the order their first check appears (the rubric's order)."""
    return list(dict.fromkeys(c.section for c in checks))


def _section(section: str, checks: list[CheckResult]) -> list[str]:
    lines = [
        f"## {escape_md(section)}",
        "",
        "| Check | Title | Status | Points | Message |",
        "| --- | --- | --- | --- | --- |",
    ]
    for check in checks:
        points = f"{format_points(check.points)}/{format_points(check.max_points)}"
        if check.status is Status.manual:
            points = f"up to {format_points(check.max_points)} (reviewer)"
        title = escape_md(check.title) + (" (required)" if check.required else "")
        cells = [escape_md(check.id), title, STATUS_LABELS[check.status], points]
        lines.append("| " + " | ".join([*cells, escape_md(check.message)]) + " |")
    lines.append("")
    hinted = [c for c in checks if c.status is not Status.passed and c.hint]
    if hinted:
        lines += ["**Hints**", ""]
        lines += [f"- **{escape_md(c.id)}** ({escape_md(c.title)}): {escape_md(c.hint)}" for c in hinted]
        lines.append("")
    return lines


def _what_went_wrong(report: Report) -> list[str]:
    """Each failed step and each service that never became ready, with the cause its own output names and its
    last lines: the candidate's own commands' output (they never see hidden data)."""
    failed: list[tuple[str, str, str | None, str]] = [
        (f"Step {escape_md(step.id)}", step.failure_reason or "", step.cause, step.error_lines)
        for step in report.steps if not step.succeeded and not step.skipped_reason
    ]
    failed += [(f"Service {escape_md(service.id)}", service.message, service.cause, service.error_lines)
               for service in report.services if not service.ready and not service.message.startswith("not started")]
    if not failed:
        return []
    lines = ["## What went wrong", ""]
    for name, reason, cause, error_lines in failed:
        lines.append(f"- **{name}** {escape_md(reason)}" + (f": {escape_md(cause)}" if cause else ""))
        if error_lines:  # escaped like every other text: one quoted paragraph, lines kept apart by <br>
            lines += ["", f"  > {escape_md(error_lines)}", ""]
    lines.append("")
    return lines


def _hidden_summary(hidden: list[CheckResult]) -> list[str]:
    if not hidden:
        return []
    earned = format_points(sum(c.points for c in hidden))
    possible = format_points(sum(c.max_points for c in hidden))
    noun = "check" if len(hidden) == 1 else "checks"
    return ["## Hidden checks", "", f"{len(hidden)} hidden {noun}: {earned}/{possible} points.", ""]


def _footer(report: Report) -> list[str]:
    lines = ["---", ""]
    submission = report.submission
    if submission is not None:
        described = f"Submission: {escape_md(submission.source)} ({submission.kind}"
        if submission.ref:
            described += f", ref {escape_md(submission.ref)}"
        lines += [described + f"), digest {escape_md(submission.digest)}  "]
    lines += [f"Run {escape_md(report.run_id)}, grader {escape_md(report.grader_version)}  "]
    lines += [_provenance(report)]
    return lines


def _provenance(report: Report) -> str:
    """What the grade was computed from, so it can be reproduced: lab, rubric, images and plug-ins."""
    parts = [_identity("Lab", report.lab), _identity("rubric", report.rubric)]
    parts += [f"image {escape_md(name)} {escape_md(digest)}" for name, digest in sorted(report.images.items())]
    plugins = sorted(report.plugins.items())
    parts += [f"check type {escape_md(name)} from {escape_md(origin)}" for name, origin in plugins]
    return "; ".join(parts)


def _identity(kind: str, fields: dict[str, str]) -> str:
    version, digest = fields.get("version", ""), fields.get("digest", "no digest")
    return f"{kind} {escape_md(fields.get('id', ''))} v{escape_md(version)} ({escape_md(digest)})"
