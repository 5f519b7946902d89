"""Hostile corpus, intake: every unsafe submission gets a defined outcome from the real CLI.

A refused submission ends with exit code 2 and a message naming the entry and the rule, before any sandbox
exists and with no report written. An accepted one that tries to run code on the host (git hooks, filters,
submodules, YAML tags) is graded against a one-check lab in about a second, and its marker file never
appears. Archive bombs are refused before extraction: the grader's scratch space stays nearly empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.intake.tree import ExtractLimits
from grader.results.report.markdown import escape_md

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import integrity_support as support  # noqa: E402
from integrity_support import tar_member, write_tar, write_zip  # noqa: E402

LIMITS = ExtractLimits()
ONLY_PLAIN = "only files, directories and links are allowed"
OUTSIDE = "which points outside the submission folder"
SMALL_SCRATCH = 2 * 1024 * 1024  # what intake may write while refusing a bomb: nothing like its payload
README = {"id": "readme", "title": "README present", "type": "file", "points": 1, "path": "README.md"}


@dataclass(frozen=True)
class Refusal:
    build: Callable[[Path], Path]
    message: str


def _ratio_bomb(tmp: Path) -> Path:
    return support.zip_of_zeros(tmp / "ratio.zip", "zeros.bin", 90 * 1024 * 1024)


def _ratio_message() -> str:
    # The ratio depends on zlib's output for 90 MiB of zeros; the rule and the entry are what matter.
    return "archive entry 'zeros.bin' has a compression ratio of "


def _many_zip_entries(tmp: Path) -> Path:
    return write_zip(tmp / "many.zip", ((f"f{n:05d}", b"", 0o100644) for n in range(LIMITS.max_files + 1)))


def _many_tar_entries(tmp: Path) -> Path:
    return write_tar(tmp / "many.tar.gz", [tar_member(f"f{n:05d}", b"") for n in range(LIMITS.max_files + 1)])


# The other refusals (I1 to I19, I22, I23, I26 to I28) need no engine and cheap inputs: the unit test
# test_intake_refusals.py runs them through the CLI in-process. These four build large inputs and watch the
# scratch space of a real grader process while it refuses them.
REFUSALS = {
    "zip-bomb": Refusal(
        lambda t: support.zip_of_zeros(t / "bomb.zip", "zeros.bin", 300 * 1024 * 1024),
        f"archive entry 'zeros.bin' declares {300 * 1024 * 1024} bytes, "
        f"over the limit of {LIMITS.max_file_bytes} bytes per file"),
    "zip-ratio-bomb": Refusal(_ratio_bomb, _ratio_message()),
    "zip-too-many-files": Refusal(
        _many_zip_entries, f"archive has {LIMITS.max_files + 1} entries, over the limit of {LIMITS.max_files} files"),
    "tgz-too-many-files": Refusal(
        _many_tar_entries, f"archive entry 'f{LIMITS.max_files:05d}' goes over the limit of {LIMITS.max_files} files"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_unsafe_submission_is_refused_with_exit_code_2_and_the_entry_named(case: str, tmp_path: Path) -> None:
    refusal = REFUSALS[case]
    submission = refusal.build(tmp_path)
    out = tmp_path / "out"
    ref = ("--ref", "main") if (submission / ".git").is_dir() else ()

    result = support.run_grade(submission, "train-and-test", out, *ref, scratch=tmp_path / "scratch")

    assert result.code == 2, result.stderr
    assert result.stderr.startswith("error: ") and refusal.message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr
    assert result.stdout == "" and not out.exists()
    assert result.peak_scratch_bytes < SMALL_SCRATCH  # bombs and floods are refused before they are unpacked
    assert not (tmp_path / "hook-ran").exists()
    assert not (tmp_path / "escape.py").exists() and not Path("/etc/cron.d/evil").exists()


# --- accepted, but nothing of it may run on the host ----------------------------------------------


@pytest.fixture
def grade_accepted(tmp_path: Path, docker_client, runtime_image):
    """Grades an accepted submission against a one-check lab through the CLI; nothing stays on the engine."""

    def grade(submission: Path, checks: list[dict], *extra: str) -> tuple[support.CliResult, dict]:
        lab = support.probe_lab(tmp_path / "lab", checks)
        out = tmp_path / "out"
        result = support.run_grade(submission, lab, out, *extra, scratch=tmp_path / "scratch")
        assert "Traceback" not in result.stderr and "\x1b" not in result.stderr, result.stderr
        report = support.read_report(out)
        leftovers = [c.name for c in docker_client.containers.list(
            all=True, filters={"label": f"capstone-grader.run={report['run_id']}"})]
        assert leftovers == []
        return result, report

    return grade


def test_git_hooks_fsmonitor_and_smudge_filters_never_run_on_the_host(tmp_path: Path, grade_accepted) -> None:
    marker = tmp_path / "hook-ran"
    repo = support.git_repo(tmp_path / "repo", {"README.md": "# capstone\n", "data.txt": "committed\n",
                                                ".gitattributes": "*.txt filter=evil diff=evil\n"})
    support.arm_hooks(repo, marker)
    evil = f"sh -c 'echo filter >> {marker}; cat'"
    for key, value in (("filter.evil.smudge", evil), ("filter.evil.clean", evil), ("filter.evil.required", "true"),
                       ("diff.evil.textconv", f"sh -c 'echo textconv >> {marker}; cat'")):
        support.git(repo, "config", key, value)
    support.git(repo, "checkout", "-q", "-b", "armed")  # the trap is real: a checkout here runs the hook
    assert marker.read_text().strip()
    marker.unlink()

    regex = {"id": "unsmudged", "title": "data.txt as committed", "type": "regex", "points": 1,
             "path": "data.txt", "pattern": r"\Acommitted\n\Z"}
    result, report = grade_accepted(repo, [README, regex], "--ref", "main")

    assert result.code == 0, result.stderr
    assert [c["status"] for c in report["checks"]] == ["pass", "pass"]
    assert report["submission"]["kind"] == "git" and report["submission"]["ref"] == support.git(repo, "rev-parse",
                                                                                                 "main")
    assert not marker.exists(), marker.read_text()


def test_a_local_submodule_is_never_fetched_and_its_hooks_never_run(tmp_path: Path, grade_accepted) -> None:
    marker = tmp_path / "hook-ran"
    library = support.git_repo(tmp_path / "library", {"secret.py": "TOKEN = 'from the submodule'\n"})
    support.arm_hooks(library, marker)
    repo = support.git_repo(tmp_path / "repo", {"README.md": "# capstone\n"})
    support.git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", library.as_uri(), "vendor/lib")
    support.git(repo, "commit", "-q", "-m", "vendor a library")
    marker.unlink(missing_ok=True)  # adding the submodule checked it out here, on purpose

    absent = {"id": "no-submodule", "title": "submodule not fetched", "type": "file", "points": 1,
              "path": "vendor/lib/secret.py", "absent": True}
    gitmodules = {"id": "gitmodules", "title": ".gitmodules kept", "type": "regex", "points": 1,
                  "path": ".gitmodules", "pattern": "url = file://"}
    result, report = grade_accepted(repo, [README, absent, gitmodules], "--ref", "main")

    assert result.code == 0, result.stderr
    assert {c["id"]: c["status"] for c in report["checks"]} == {"readme": "pass", "no-submodule": "pass",
                                                                "gitmodules": "pass"}
    assert not marker.exists()


def test_a_nested_archive_is_copied_as_bytes_and_never_unpacked(tmp_path: Path, grade_accepted) -> None:
    inner_bomb = support.zip_of_zeros(tmp_path / "inner.zip", "zeros.bin", 300 * 1024 * 1024)
    inner_tar = write_tar(tmp_path / "inner.tar.gz", [tar_member("../escape.py")])
    outer = write_zip(tmp_path / "outer.zip", [("README.md", b"# capstone\n", 0o100644),
                                               ("inner.zip", inner_bomb.read_bytes(), 0o100644),
                                               ("inner.tar.gz", inner_tar.read_bytes(), 0o100644)])
    kept = {"id": "inner-kept", "title": "inner archive kept", "type": "file", "points": 1,
            "path": "inner.zip", "min_bytes": inner_bomb.stat().st_size}

    result, report = grade_accepted(outer, [README, kept])

    assert result.code == 0, result.stderr
    assert result.peak_scratch_bytes < 2 * (inner_bomb.stat().st_size + inner_tar.stat().st_size) + SMALL_SCRATCH
    submission = report["submission"]
    assert (submission["kind"], submission["files"]) == ("archive", 3)
    assert submission["bytes"] == len(b"# capstone\n") + inner_bomb.stat().st_size + inner_tar.stat().st_size
    assert not (tmp_path / "escape.py").exists()


# No slash in any of them: each is one file name, not a path.
HOSTILE_NAMES = ["a\nb.txt", "\x1b[31mred\x1b]8;;https:evil.invalid\x07.txt", "<img src=x onerror=alert(1)>.txt",
                 "[bold red]markup[link=https:evil.invalid].txt", "\u202eevil.txt"]


def test_file_names_with_newlines_escapes_and_html_are_kept_and_inert_in_every_report(
    tmp_path: Path, grade_accepted
) -> None:
    archive = write_tar(tmp_path / "names.tar.gz", [tar_member("README.md", b"# capstone\n"),
                                                     *(tar_member(f"notes/{n}", b"secret\n") for n in HOSTILE_NAMES)])
    forbidden = {"id": "no-secrets", "title": "no secret in the notes", "type": "regex", "points": 1,
                 "path": "notes/*", "pattern": "secret", "must_not_match": True}
    lab = support.probe_lab(tmp_path / "lab", [README, forbidden])
    out = tmp_path / "out"

    result = support.run_grade(archive, lab, out, scratch=tmp_path / "scratch", quiet=False)  # names reach stderr

    assert result.code == 1, result.stderr  # graded, not passed
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr and "\u202e" not in result.stderr
    report = support.read_report(out)
    check = next(c for c in report["checks"] if c["id"] == "no-secrets")
    assert check["status"] == "fail" and check["message"].startswith("5 forbidden match(es), first: notes/")
    assert sorted(s.removeprefix("notes/").removesuffix(": secret") for s in check["evidence"]["samples"]) == sorted(
        HOSTILE_NAMES)  # the JSON keeps the names exactly
    for name in ("report.md", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "\x1b" not in text and "\u202e" not in text and "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in (out / "report.html").read_text(encoding="utf-8")


# --- the manifest: plain data or nothing ----------------------------------------------------------

MANIFESTS = {
    "python-tag-runs-nothing": (
        "train:\n  command: !!python/object/apply:os.system ['touch {marker}']\n",
        "capstone.yaml:2: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"),
    "python-new-object-tag": (
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
        "capstone.yaml:1: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/new:subprocess.Popen'"),
    "billion-laughs": (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
        "capstone.yaml:2: YAML aliases (*name) are not allowed"),
    "not-a-mapping": ("- train\n- serve\n",
                      "capstone.yaml:1: the manifest must be a mapping of sections (train, serve, metrics, model, "
                      "tests)"),
    "wrong-types": ("serve:\n  port: eighty\n",
                    "capstone.yaml:2: serve.port: Input should be a valid integer, unable to parse string as an "
                    "integer"),
    "unknown-keys": ("train:\n  command: python train.py\nsecrets: please\n",
                     "capstone.yaml:3: secrets: Extra inputs are not permitted"),
    "terminal-escape": ("train:\n  command: python train.py\n  \x1b[2Jhidden: x\n",
                        "capstone.yaml:3: invalid YAML: character #x001b is not allowed (a terminal escape or "
                        "other control character)"),
    "over-one-mebibyte": ("# " + "x" * (1024 * 1024) + "\n",
                          f"capstone.yaml: file is {1024 * 1024 + 3} bytes; YAML files over 1048576 bytes are "
                          "refused"),
}


@pytest.mark.parametrize("case", MANIFESTS, ids=list(MANIFESTS))
def test_a_hostile_manifest_is_ignored_with_its_file_and_line_named(tmp_path: Path, grade_accepted,
                                                                     case: str) -> None:
    marker = tmp_path / "yaml-ran"
    text, message = MANIFESTS[case]
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "README.md").write_text("# capstone\n")
    (submission / "capstone.yaml").write_text(text.replace("{marker}", str(marker)))

    result, report = grade_accepted(submission, [README])

    expected = f"capstone manifest ignored: {message}"
    assert result.code == 0, result.stderr  # graded with the lab's defaults, as docs/manifest.md says
    assert report["manifest"] == {"path": None, "error": expected}
    assert escape_md(expected) in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert not marker.exists()
