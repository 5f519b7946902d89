"""Grade a corpus of real capstone repositories and compare with a human reviewer's verdicts.

The corpus file (docs/real-capstones/corpus.yaml) lists each repository with the commit that was read, the
reviewer's verdict per criterion (written before grading) and the reviewer's capstone.yaml for it. The
repositories themselves are not part of this project: check each one out under REPOS as ``owner+name``
(a work tree of the listed commit). Each is copied, given its manifest, graded with the lab (default
capstone-review), and every criterion's graded verdict is compared with the reviewer's.

    python scripts/grade-corpus.py --repos ~/corpus/repos --out docs/real-capstones/results.md

Writes the table (Markdown) and the raw per-repository results (JSON beside it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.models import CheckResult, Report, Status
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox import make_engine

# Each criterion of the reviewer's sheet and the capstone-review checks that decide it (all must pass).
CRITERIA = {
    "tracking": ["run-tracked"],
    "registry": ["model-registered"],
    "serving": ["predictions-served"],
    "metrics": ["metrics-exposition"],
    "tests": ["unit-tests"],
    "dockerfile": ["dockerfile"],
    "ci": ["ci-workflow"],
}
VERDICTS = ("pass", "partial", "fail", "n-a")


@dataclass
class Entry:
    repo: str
    commit: str
    expected: dict[str, str]
    manifest: dict[str, object]
    notes: dict[str, str] = field(default_factory=dict)
    committed: str | None = None  # the commit's date (ISO 8601): the cut-off its dependencies resolve at

    @property
    def folder_name(self) -> str:
        return self.repo.replace("/", "+")


def load_corpus(path: Path) -> list[Entry]:
    """The corpus entries; a verdict outside VERDICTS or a criterion outside CRITERIA is an error."""
    entries = []
    for raw in yaml.safe_load(path.read_text())["repositories"]:
        entry = Entry(repo=raw["repo"], commit=raw["commit"], expected=raw["expected"],
                      manifest=raw.get("manifest") or {}, notes=raw.get("notes") or {},
                      committed=raw.get("committed"))
        unknown = set(entry.expected) - set(CRITERIA)
        bad = {k: v for k, v in entry.expected.items() if v not in VERDICTS}
        if unknown or bad:
            raise SystemExit(f"{path}: {entry.repo}: unknown criteria {sorted(unknown)} or verdicts {bad}")
        entries.append(entry)
    return entries


def graded_verdict(checks: dict[str, CheckResult], ids: list[str]) -> str:
    """pass when every deciding check passed; partial when some earned points; fail otherwise."""
    results = [checks[i] for i in ids if i in checks]
    if not results:
        return "n-a"
    if all(r.status is Status.passed for r in results):
        return "pass"
    if any(r.points > 0 for r in results):
        return "partial"
    return "fail"


def grade_entry(entry: Entry, repos: Path, lab: str, scratch: Path) -> Report:
    source = repos / entry.folder_name
    if not source.is_dir():
        raise SystemExit(f"{source}: not checked out (expected a work tree of {entry.repo}@{entry.commit})")
    submission = scratch / entry.folder_name
    shutil.copytree(source, submission, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    (submission / "capstone.yaml").write_text(yaml.safe_dump(entry.manifest, sort_keys=False))
    if entry.committed:
        commit_as_of(submission, entry.committed)
    paths = project_paths()
    options = GradeOptions(out_dir=scratch / "reports" / entry.folder_name, store=False)
    return grade_submission(str(submission), lab, paths, make_engine("docker", paths), options).report


def commit_as_of(folder: Path, date: str) -> None:
    """Make the copy one git commit dated like the original, so the grader reads it as a clone: its intake takes
    the committed files and resolves unpinned dependencies as of that date, as it would for the candidate's own
    repository. Every file is added, even one a .gitignore matches (the work tree holds only committed files)."""
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_NAME": "corpus",
           "GIT_AUTHOR_EMAIL": "corpus@localhost", "GIT_COMMITTER_NAME": "corpus",
           "GIT_COMMITTER_EMAIL": "corpus@localhost", "PATH": "/usr/bin:/bin"}
    for command in (["git", "init", "-q"], ["git", "add", "-A", "-f"], ["git", "commit", "-q", "-m", "corpus copy"]):
        subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)


def raw_result(entry: Entry, report: Report, graded: dict[str, str], causes: dict[str, str]) -> dict[str, object]:
    """What results.json keeps per repository: enough to tell an environment failure from a candidate's bug."""
    return {"commit": entry.commit, "committed": entry.committed, "expected": entry.expected, "graded": graded,
            "messages": causes, "score": report.score, "max_score": report.max_score,
            "steps": {s.id: s.failure_reason or "ok" for s in report.steps},
            "causes": {s.id: s.cause for s in report.steps if s.cause},
            "services": {s.id: {"ready": s.ready, "message": s.message, "cause": s.cause,
                                "log_tail": s.log_tail[-2000:]} for s in report.services},
            "dependencies": {k: (report.dependencies or {}).get(k) for k in (
                "status", "message", "reason", "requirement_files", "lock_file", "fallbacks", "cutoff",
                "adjustments", "cached")} if report.dependencies else None}


def table(rows: list[tuple[Entry, dict[str, str], dict[str, str]]]) -> str:
    """The Markdown table: expected / graded per criterion, and the agreement per criterion."""
    header = "| repository | " + " | ".join(CRITERIA) + " |"
    lines = [header, "|" + " --- |" * (len(CRITERIA) + 1)]
    for entry, graded, _causes in rows:
        cells = []
        for criterion in CRITERIA:
            want, got = entry.expected.get(criterion, "n-a"), graded[criterion]
            mark = "" if want in ("n-a", got) else " ✗"
            cells.append(f"{want} / {got}{mark}")
        lines.append(f"| [{entry.repo}](https://github.com/{entry.repo}/tree/{entry.commit}) | " + " | ".join(cells)
                     + " |")
    lines += ["", "| criterion | agreement |", "| --- | --- |"]
    for criterion in CRITERIA:
        judged = [(e.expected.get(criterion, "n-a"), g[criterion]) for e, g, _ in rows]
        judged = [(want, got) for want, got in judged if want != "n-a"]
        agreed = sum(want == got for want, got in judged)
        lines.append(f"| {criterion} | {agreed}/{len(judged)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("docs/real-capstones/corpus.yaml"))
    parser.add_argument("--repos", type=Path, required=True, help="folder of work trees named owner+name")
    parser.add_argument("--lab", default="capstone-review")
    parser.add_argument("--only", nargs="*", help="grade only these owner/name repositories")
    parser.add_argument("--out", type=Path, default=Path("docs/real-capstones/results.md"))
    args = parser.parse_args()
    entries = [e for e in load_corpus(args.corpus) if not args.only or e.repo in args.only]
    rows, raw = [], {}
    with tempfile.TemporaryDirectory(prefix="grader-corpus-") as scratch:
        for entry in entries:
            print(f"grading {entry.repo} ...", file=sys.stderr, flush=True)
            report = grade_entry(entry, args.repos, args.lab, Path(scratch))
            checks = {c.id: c for c in report.checks}
            graded = {criterion: graded_verdict(checks, ids) for criterion, ids in CRITERIA.items()}
            causes = {criterion: "; ".join(checks[i].message for i in ids if i in checks)
                      for criterion, ids in CRITERIA.items()}
            rows.append((entry, graded, causes))
            raw[entry.repo] = raw_result(entry, report, graded, causes)
            # Written after every repository: a crash later in the corpus loses nothing already graded.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(table(rows))
            args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2, ensure_ascii=False))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
