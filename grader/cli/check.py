"""``grader check`` (a candidate's self-check), ``grader lab pack`` and ``grader lab guide``.

``grader check`` grades the candidate's repository on their own machine with a lab's *public bundle*: the same
pipeline, public checks, hints and report.md as the real grading, without the hidden checks or data. A full
lab that holds hidden content is refused unless the instructor says so (``--include-hidden``).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.cli.console import EXIT_INFRASTRUCTURE, EXIT_NOT_PASSED, EXIT_PASSED, terminal_safe
from grader.cli.engine import add_engine_options
from grader.errors import BadInputError
from grader.labs.pack import BundleManifest
from grader.models import CheckResult, Report, Status, Visibility
from grader.paths import ProjectPaths

# A bundle is small (a lab file, a rubric, public data): far tighter limits than a submission's.
BUNDLE_MAX_FILES = 2_000
BUNDLE_MAX_BYTES = 200 * 1024**2


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``grader check`` to the ``grader`` parser."""
    check = commands.add_parser(
        "check", help="self-check your repository with a lab's public checks before you submit (needs Docker)")
    check.add_argument("path", nargs="?", default=".", help="your repository (default: the current folder)")
    check.add_argument("--lab", required=True,
                       help="the lab's public bundle (.tar.gz or folder, from `grader lab pack --public`); "
                       "instructors: a lab id or folder with --include-hidden")
    check.add_argument("--out", type=Path, help="folder for report.md/.json/.html (default: under the grader's "
                       "cache, outside your repository, so a report never becomes part of what is checked)")
    check.add_argument("--include-hidden", action="store_true",
                       help="instructors: run a full lab's hidden checks and use its hidden data too")
    check.add_argument("--strict", action="store_true",
                       help="exit 1 unless every public check passes (default: unless every required one does)")
    add_engine_options(check)
    check.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def add_lab_commands(lab: argparse._SubParsersAction) -> None:
    """Add ``grader lab pack`` and ``grader lab guide``."""
    pack = lab.add_parser("pack", help="write a lab's public bundle for candidates (no hidden checks or data)")
    pack.add_argument("lab", help="lab id or folder")
    pack.add_argument("--public", action="store_true", help="the public bundle (the only kind: say it explicitly)")
    pack.add_argument("--out", type=Path, help="a new folder, or a .tar.gz file (default: LAB-public.tar.gz)")
    guide = lab.add_parser("guide", help="write the candidate guide of labs (what is checked and how it scores)")
    guide.add_argument("labs", nargs="*", help="lab ids or folders (default with --out: every lab)")
    guide.add_argument("--out", type=Path, help="folder to write LAB.md into (default: print one guide)")


@dataclass(frozen=True)
class CheckedLab:
    """The lab a self-check grades with: its folder, and the bundle's manifest unless it is a full lab."""

    directory: Path
    bundle: BundleManifest | None


def cmd_check(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.cli.console import ConsoleObserver, summary_table
    from grader.run.orchestrate import GradeOptions, grade_submission
    from grader.sandbox import make_engine

    submission = Path(args.path)
    if not submission.is_dir():
        raise BadInputError(f"{args.path}: not a folder; run `grader check` in your repository, or give its path")
    out = args.out or _default_out(submission, paths)
    with tempfile.TemporaryDirectory(prefix="grader-bundle-") as scratch:
        lab = resolve_checked_lab(args.lab, paths, Path(scratch), include_hidden=args.include_hidden)
        engine = make_engine(args.backend, paths, runtime=args.runtime)
        options = GradeOptions(out_dir=out, store=False)
        observer = None if args.quiet else ConsoleObserver(err)
        outcome = grade_submission(str(submission.resolve()), str(lab.directory), paths, engine, options, observer)
    report = outcome.report
    markdown = outcome.files.get("md")
    if markdown is not None and lab.bundle is not None:
        with markdown.open("a", encoding="utf-8") as handle:
            handle.write(self_check_note(lab.bundle))
    if not args.quiet:
        err.print(summary_table(report))
    for line in self_check_summary(report, lab.bundle, markdown):
        err.print(line, highlight=False)
    if report.outcome == "error":
        return EXIT_INFRASTRUCTURE
    return EXIT_PASSED if self_check_passed(report, strict=args.strict) else EXIT_NOT_PASSED


def resolve_checked_lab(given: str, paths: ProjectPaths, scratch: Path, *, include_hidden: bool) -> CheckedLab:
    """The lab folder for ``--lab``: an unpacked bundle archive, a bundle folder (verified against its manifest),
    or — refused unless ``include_hidden`` when it holds hidden checks or data — a full lab."""
    from grader.labs.loading import lab_directory, load_lab
    from grader.labs.pack import ARCHIVE_SUFFIXES, bundle_problems, hidden_content, read_bundle_manifest

    archive = Path(given)
    if given.lower().endswith(ARCHIVE_SUFFIXES):
        if not archive.is_file():
            raise BadInputError(f"{given}: no such bundle file (the lab's public bundle, from your instructor)")
        folder = unpack_bundle(archive, scratch / "bundle")
    else:
        folder = lab_directory(given, paths)
    manifest = read_bundle_manifest(folder)
    if manifest is not None:
        problems = list(bundle_problems(folder, manifest))
        if problems:
            raise BadInputError(f"the bundle {given} is not as it was packed ({'; '.join(problems[:5])}): get a "
                                "fresh copy from your instructor")
        return CheckedLab(folder, manifest)
    hidden = hidden_content(load_lab(str(folder), paths))
    if not hidden.empty and not include_hidden:
        held = [f"hidden data ({', '.join(hidden.data.values())})"] if hidden.data else []
        if hidden.checks:
            held.append(f"{len(hidden.checks)} hidden check{'s' if len(hidden.checks) != 1 else ''}")
        raise BadInputError(
            f"{given} is a full lab with {' and '.join(held)}, which candidates must not run: check with the lab's "
            f"public bundle instead (an instructor makes it with `grader lab pack {given} --public`). "
            "Instructors: add --include-hidden to run every check.")
    return CheckedLab(folder, None)


def unpack_bundle(archive: Path, dest: Path) -> Path:
    """Unpack a bundle archive safely (the intake's rules) and return the folder holding its ``bundle.json``."""
    from grader.errors import SubmissionError
    from grader.intake.archive import extract_tar
    from grader.intake.tree import ExtractLimits
    from grader.labs.pack import BUNDLE_MANIFEST

    limits = ExtractLimits(max_files=BUNDLE_MAX_FILES, max_bytes=BUNDLE_MAX_BYTES,
                           max_file_bytes=BUNDLE_MAX_BYTES)
    dest.mkdir(parents=True)
    try:
        with archive.open("rb") as stream:
            extract_tar(stream, dest, limits, compressed=True)
    except SubmissionError as exc:
        raise BadInputError(f"{archive} is not a usable bundle: {exc}") from None
    for folder in (dest, *sorted(p for p in dest.iterdir() if p.is_dir())):
        if (folder / BUNDLE_MANIFEST).is_file():
            return folder
    raise BadInputError(f"{archive} holds no {BUNDLE_MANIFEST}: it is not a bundle from `grader lab pack --public`")


def _default_out(submission: Path, paths: ProjectPaths) -> Path:
    resolved = submission.resolve()
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return paths.cache / "self-check" / f"{resolved.name or 'root'}-{tag}"


def self_check_passed(report: Report, *, strict: bool) -> bool:
    """Required public checks all pass (``strict``: every automatic public check passes)."""
    public = [c for c in report.checks if c.visibility is Visibility.public and c.status is not Status.manual]
    if strict:
        return all(c.status is Status.passed for c in public)
    return all(c.status is Status.passed for c in public if c.required)


def _points(value: float) -> str:
    return f"{value:g} point{'' if value == 1 else 's'}"


_COUNTED = {Status.passed: "passed", Status.failed: "failed", Status.skipped: "skipped", Status.error: "error"}


def first_to_fix(report: Report) -> CheckResult | None:
    """The public check to fix first: a required one that failed, else the first failure in rubric order
    (skipped checks follow from another's failure, so they are never first)."""
    broken = [c for c in report.checks if c.visibility is Visibility.public
              and c.status in (Status.failed, Status.error)]
    return next((c for c in broken if c.required), broken[0] if broken else None)


def self_check_summary(report: Report, bundle: BundleManifest | None, markdown: Path | None) -> list[str]:
    """What ran, the score on the public checks, what to fix first and where report.md is (rich markup)."""
    public = [c for c in report.checks if c.visibility is Visibility.public and c.status is not Status.manual]
    counts = {status: sum(1 for c in public if c.status is status) for status in Status}
    earned, possible = sum(c.points for c in public), sum(c.max_points for c in public)
    source = report.submission.source if report.submission else ""
    lines = [f"[bold]Self-check[/bold] of {terminal_safe(source)} with lab {terminal_safe(report.lab.get('id', ''))} "
             f"v{terminal_safe(report.lab.get('version', ''))}"
             + (" (public bundle)" if bundle else " (full lab, hidden checks included)")]
    if report.outcome == "error":
        lines.append(f"[magenta]the self-check could not finish:[/magenta] {terminal_safe(report.error or '')}")
    ran_parts = [f"step {s.id} " + ("ok" if s.succeeded else "skipped" if s.skipped_reason else "failed")
                 for s in report.steps]
    ran_parts += [f"service {s.id} " + ("ready" if s.ready else "not ready") for s in report.services]
    if ran_parts:
        lines.append(f"ran: {terminal_safe(', '.join(ran_parts))}")
    ran = ", ".join(f"{counts[status]} {word}" for status, word in _COUNTED.items() if counts[status])
    share = f" ({earned / possible:.0%})" if possible else ""
    lines.append(f"public checks: [bold]{earned:g}/{possible:g}[/bold] points{share} — {ran or 'none ran'}")
    required = [c for c in public if c.required]
    missed = [c.id for c in required if c.status is not Status.passed]
    if missed:
        lines.append(f"[red]required checks not passing:[/red] {terminal_safe(', '.join(missed))}")
    elif required:
        lines.append(f"[green]all {len(required)} required checks pass[/green]")
    if bundle is not None and bundle.hidden_checks:
        lines.append(f"not run here: {bundle.hidden_checks} hidden check{'s' if bundle.hidden_checks != 1 else ''} "
                     f"worth {_points(bundle.hidden_points)} (the real grading runs them)")
    fix = first_to_fix(report)
    if fix is not None:
        lines.append(f"[bold]fix first:[/bold] {terminal_safe(fix.id)} — {terminal_safe(fix.title)}: "
                     f"{terminal_safe(fix.message)[:300]}")
        if fix.hint:
            lines.append(f"  hint: {terminal_safe(fix.hint)}")
    if markdown is not None:
        lines.append(f"report.md: {escape(str(markdown))}")
    return lines


def self_check_note(bundle: BundleManifest) -> str:
    """The paragraph appended to a self-check's report.md: which bundle, and what the real grading adds."""
    hidden = (f"{bundle.hidden_checks} hidden check{'s' if bundle.hidden_checks != 1 else ''} worth "
              f"{_points(bundle.hidden_points)} did not run; " if bundle.hidden_checks else "")
    stand_ins = ", ".join(f"{name}: {path}" for name, path in bundle.stand_ins.items())
    rows = (f"checks that score on hidden rows used public stand-ins ({stand_ins}), so their numbers are not the "
            "grade's; " if stand_ins else "")
    return (f"\n## Self-check\n\nThis is a self-check with the public bundle of lab {bundle.lab.id} "
            f"v{bundle.lab.version} (rubric {bundle.rubric.id} v{bundle.rubric.version}, "
            f"{bundle.rubric.digest}): {hidden}{rows}the score and verdict above count the public checks "
            "only. The grading of your submission runs every check on the lab's own data.\n")


def cmd_lab_pack(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.labs.pack import pack_public_bundle

    if not args.public:
        raise BadInputError("a bundle for candidates is public: add --public (hidden checks and data are left out)")
    out: Path = args.out or Path(f"{Path(args.lab).name}-public.tar.gz")
    manifest = pack_public_bundle(args.lab, paths, out)
    hidden = (f"{manifest.hidden_checks} hidden check(s) ({manifest.hidden_points:g} points) left out"
              if manifest.hidden_checks else "no hidden checks")
    stand_ins = ", ".join(f"{k} → {v}" for k, v in manifest.stand_ins.items()) or "none"
    Console().print(f"[green]packed[/green] {escape(str(out))}: lab {escape(manifest.lab.id)} "
                    f"v{escape(manifest.lab.version)}, {len(manifest.files)} files, {hidden}; hidden data stand-ins: "
                    f"{escape(stand_ins)}", highlight=False)
    err.print(f"candidates run: grader check . --lab {escape(out.name)}")
    return EXIT_PASSED


def cmd_lab_guide(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    import sys

    from grader.labs.guide import guide_file_name, render_guide
    from grader.labs.loading import list_lab_ids, load_lab

    if args.out is None:
        if len(args.labs) != 1:
            raise BadInputError("name one lab to print its guide, or give --out DIR to write several")
        sys.stdout.write(render_guide(load_lab(args.labs[0], paths)))
        return EXIT_PASSED
    args.out.mkdir(parents=True, exist_ok=True)
    for reference in args.labs or list_lab_ids(paths):
        lab = load_lab(reference, paths)
        path = args.out / guide_file_name(lab.lab.id)
        path.write_text(render_guide(lab), encoding="utf-8")
        err.print(f"wrote {escape(str(path))}")
    return EXIT_PASSED


LAB_ACTIONS = {"pack": cmd_lab_pack, "guide": cmd_lab_guide}
COMMANDS = {"check": cmd_check}
