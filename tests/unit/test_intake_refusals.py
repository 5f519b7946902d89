"""Hostile corpus, intake refusals that never reach the engine (cases I1 to I19, I22, I23, I26 to I28 of
tests/integration/hostile/README.md): the grader's CLI, run in this process, ends each with exit code 2 and a
message naming the entry and the rule, before any sandbox exists, with no report written, no hook run and
nothing unpacked. The archive bombs and floods (I20, I21, I24, I25), whose inputs take seconds to build, stay
in tests/integration/hostile/test_intake_hostile.py, through the CLI in its own process.
"""

from __future__ import annotations

import os
import stat
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.cli import main
from grader.intake.tree import ExtractLimits

HOSTILE = Path(__file__).resolve().parent.parent / "integration" / "hostile"
if str(HOSTILE) not in sys.path:
    sys.path.insert(0, str(HOSTILE))
import integrity_support as support  # noqa: E402
from integrity_support import tar_member, write_tar, write_zip  # noqa: E402

LIMITS = ExtractLimits()
ONLY_PLAIN = "only files, directories and links are allowed"
OUTSIDE = "which points outside the submission folder"
SMALL_SCRATCH = 2 * 1024 * 1024  # what intake may write while refusing: nothing like an unpacked archive
TERMINAL_NAME = "../\x1b[2J\x1b]8;;http://evil.invalid/\x07<script>alert(1)</script>\nnext.py"


@dataclass(frozen=True)
class Refusal:
    build: Callable[[Path], Path]
    message: str


def _directory(tmp: Path, link: str | None = None, fifo: bool = False) -> Path:
    root = tmp / "submission"
    root.mkdir()
    (root / "README.md").write_text("# capstone\n")
    if link is not None:
        (root / ("data" if link.startswith("/") else "up")).symlink_to(link)
    if fifo:
        os.mkfifo(root / "pipe")
    return root


def _git_with_symlink_out(tmp: Path) -> Path:
    repo = support.git_repo(tmp / "repo", {"README.md": "# capstone\n"})
    (repo / "leak").symlink_to("../../../../etc/passwd")
    support.git(repo, "add", "leak")
    support.git(repo, "commit", "-q", "-m", "leak")
    support.arm_hooks(repo, tmp / "hook-ran")
    return repo


REFUSALS = {
    "tar-dotdot": Refusal(lambda t: write_tar(t / "s.tar", [tar_member("../escape.py")]),
                          "archive entry '../escape.py' escapes the submission folder"),
    "tgz-inner-dotdot": Refusal(lambda t: write_tar(t / "s.tar.gz", [tar_member("src/../../escape.py")]),
                                "archive entry 'src/../../escape.py' escapes the submission folder"),
    "tar-absolute": Refusal(lambda t: write_tar(t / "s.tar", [tar_member("/etc/cron.d/evil")]),
                            "archive entry '/etc/cron.d/evil' is an absolute path"),
    "zip-dotdot": Refusal(lambda t: write_zip(t / "s.zip", [("../../escape.py", b"x", 0o100644)]),
                          "archive entry '../../escape.py' escapes the submission folder"),
    "zip-backslash-dotdot": Refusal(lambda t: write_zip(t / "s.zip", [("..\\..\\escape.py", b"x", 0o100644)]),
                                    "archive entry '../../escape.py' escapes the submission folder"),
    "zip-absolute": Refusal(lambda t: write_zip(t / "s.zip", [("/etc/cron.d/evil", b"x", 0o100644)]),
                            "archive entry '/etc/cron.d/evil' is an absolute path"),
    "tar-symlink-absolute": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("data", None, kind=tarfile.SYMTYPE, link="/etc/passwd")]),
        "archive entry 'data' is a symlink to '/etc/passwd', an absolute path outside the submission folder"),
    "tgz-symlink-up": Refusal(
        lambda t: write_tar(t / "s.tgz", [tar_member("up", None, kind=tarfile.SYMTYPE, link="../../../etc")]),
        f"archive entry 'up' is a symlink to '../../../etc', {OUTSIDE}"),
    "zip-symlink-up": Refusal(lambda t: write_zip(t / "s.zip", [("up", b"../..", stat.S_IFLNK | 0o777)]),
                              f"archive entry 'up' is a symlink to '../..', {OUTSIDE}"),
    "tar-write-through-symlink": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("real", None, kind=tarfile.DIRTYPE),
                                          tar_member("a", None, kind=tarfile.SYMTYPE, link="real"),
                                          tar_member("a/evil.py")]),
        "archive entry 'a/evil.py' would be written through the symlink 'a'"),
    "tar-hardlink-absolute": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("h", None, kind=tarfile.LNKTYPE, link="/etc/passwd")]),
        "archive entry 'h' is a hard link to '/etc/passwd', outside the submission folder"),
    "tar-hardlink-up": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("h", None, kind=tarfile.LNKTYPE, link="../outside.txt")]),
        "archive entry 'h' is a hard link to '../outside.txt', outside the submission folder"),
    "tar-character-device": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("null", None, kind=tarfile.CHRTYPE)]),
        f"archive entry 'null' is a character device: {ONLY_PLAIN}"),
    "tar-block-device": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("disk", None, kind=tarfile.BLKTYPE)]),
        f"archive entry 'disk' is a block device: {ONLY_PLAIN}"),
    "tgz-fifo": Refusal(lambda t: write_tar(t / "s.tar.gz", [tar_member("pipe", None, kind=tarfile.FIFOTYPE)]),
                        f"archive entry 'pipe' is a fifo: {ONLY_PLAIN}"),
    "directory-symlink-absolute": Refusal(
        lambda t: _directory(t, link="/etc/passwd"),
        "submission entry 'data' is a symlink to '/etc/passwd', an absolute path outside the submission folder"),
    "directory-symlink-up": Refusal(lambda t: _directory(t, link="../../.."),
                                    f"submission entry 'up' is a symlink to '../../..', {OUTSIDE}"),
    "directory-fifo": Refusal(lambda t: _directory(t, fifo=True), f"submission entry 'pipe' is a fifo: {ONLY_PLAIN}"),
    "git-symlink-out-with-hooks": Refusal(_git_with_symlink_out,
                                          f"archive entry 'leak' is a symlink to '../../../../etc/passwd', {OUTSIDE}"),
    "zip-huge-declared-size": Refusal(
        lambda t: support.declare_zip_size(write_zip(t / "s.zip", [("big.bin", b"x" * 100, 0o100644)]), 4_000_000_000),
        f"archive entry 'big.bin' declares 4000000000 bytes, over the limit of {LIMITS.max_file_bytes} bytes per file"),
    "tar-huge-declared-size": Refusal(
        lambda t: support.tar_declaring(t / "s.tar", "huge.bin", 50 * 1024**3),
        f"archive entry 'huge.bin' is larger than the limit of {LIMITS.max_file_bytes} bytes per file"),
    "name-with-rich-markup": Refusal(lambda t: write_tar(t / "s.tar", [tar_member("../[/]x.py")]),
                                     "archive entry '../[/]x.py' escapes the submission folder"),
    "name-with-fake-link-markup": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member("../[link=http://evil.invalid]click[/link].py")]),
        "archive entry '../[link=http://evil.invalid]click[/link].py' escapes the submission folder"),
    "name-with-escapes-html-newline": Refusal(
        lambda t: write_tar(t / "s.tar", [tar_member(TERMINAL_NAME)]),
        f"archive entry {TERMINAL_NAME!r} escapes the submission folder"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_unsafe_submission_is_refused_with_exit_code_2_and_the_entry_named(case: str, tmp_path: Path, capsys,
                                                                           monkeypatch) -> None:
    refusal = REFUSALS[case]
    submission = refusal.build(tmp_path)
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    ref = ["--ref", "main"] if (submission / ".git").is_dir() else []
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the grader's temporary files, sampled below
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("NO_COLOR", "1")

    with support.sampled_size(scratch) as peak:
        code = main(["grade", str(submission), "--lab", "train-and-test", "--out", str(out), "--no-store",
                     "--quiet", *ref])
    stdout, stderr = capsys.readouterr()
    stderr = stderr.replace("\n", "")  # rich wraps long lines

    assert code == 2, stderr
    assert stderr.startswith("error: ") and refusal.message in stderr, stderr
    assert "Traceback" not in stderr and "\x1b" not in stderr
    assert stdout == "" and not out.exists()
    assert peak[0] < SMALL_SCRATCH
    assert not (tmp_path / "hook-ran").exists()
    assert not (tmp_path / "escape.py").exists() and not Path("/etc/cron.d/evil").exists()
