"""Intake: folders, archives and git repositories become a safe workspace copy, or are refused by name."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from grader.errors import BadInputError, SubmissionError
from grader.intake.archive import extract_tar, extract_zip
from grader.intake.submission import open_submission, tree_digest
from grader.intake.tree import ExtractLimits, TreeWriter

SMALL = ExtractLimits(max_files=5, max_bytes=1000, max_file_bytes=600)
EXPECTED = "is not a directory, a git repository or a .zip/.tar.gz/.tgz/.tar archive"


# --- helpers -----------------------------------------------------------------------------------


class Area:
    """A tmp folder with a destination, a victim folder a hostile entry aims at, and a snapshot of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dest = root / "dest"
        self.victim = root / "victim"
        self.victim.mkdir()

    def snapshot(self) -> None:
        self._before = set(self.root.iterdir())

    def assert_nothing_outside(self) -> None:
        assert set(self.root.iterdir()) - {self.dest} == self._before - {self.dest}
        assert list(self.victim.iterdir()) == []


@pytest.fixture
def area(tmp_path: Path) -> Iterator[Area]:
    a = Area(tmp_path)
    a.snapshot()
    yield a


def refused(message: str) -> AbstractContextManager[pytest.ExceptionInfo[SubmissionError]]:
    """Expect a refusal whose message contains `message` literally."""
    return pytest.raises(SubmissionError, match=re.escape(message))


def tar_file(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def tar_link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def tar_special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info, None


def tar_dir(name: str) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], *, compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w:gz" if compressed else "w", format=tarfile.PAX_FORMAT
    ) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def untar(
    area: Area, members: list[tuple[tarfile.TarInfo, bytes | None]], limits: ExtractLimits = SMALL
) -> None:
    extract_tar(io.BytesIO(tar_bytes(members)), area.dest, limits)


def zip_bytes(entries: list[tuple[str, bytes, int]]) -> bytes:
    """(name, data, unix mode) entries; a mode with S_IFLNK makes a symlink whose data is the target."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def declare_size(data: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size every local and central header declares (a lying or bomb zip)."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset : start + offset + 4] = size.to_bytes(4, "little")
            start = patched.find(signature, start + 4)
    return bytes(patched)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test Student")
    git(path, "config", "user.email", "student@example.com")
    return path


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, str]:
    """A repository: main (two commits, v1 tagged on the first) and a feature branch."""
    path = init_repo(tmp_path / "repo")
    first = commit(path, {"train.py": "v1\n"}, "first")
    git(path, "tag", "v1")
    second = commit(path, {"train.py": "v2\n"}, "second")
    git(path, "checkout", "-q", "-b", "feature")
    feature = commit(path, {"feature.txt": "f\n"}, "feature")
    git(path, "checkout", "-q", "main")
    return {"path": str(path), "first": first, "second": second, "feature": feature}


def make_tree(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "model.py").write_text("print('model')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "src" / "link.py").symlink_to("model.py")
    return root


# --- folders -----------------------------------------------------------------------------------


def test_directory_is_copied_with_exec_bits_and_inner_links_but_without_git_and_pycache(area: Area) -> None:
    source = make_tree(area.root / "sub")
    (source / "vendor" / ".git").mkdir(
        parents=True
    )  # a nested repository's metadata (a top-level one means git)
    (source / "vendor" / ".git" / "config").write_text("[core]\n")
    (source / "src" / "__pycache__").mkdir()
    (source / "src" / "__pycache__" / "model.pyc").write_bytes(b"\0")

    workspace = open_submission(str(source), area.dest)

    assert workspace.path == area.dest
    assert (area.dest / "src" / "model.py").read_text() == "print('model')\n"
    assert stat.S_IMODE(os.lstat(area.dest / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.lstat(area.dest / "src" / "model.py").st_mode) == 0o644
    assert os.readlink(area.dest / "src" / "link.py") == "model.py"
    assert not (area.dest / "vendor" / ".git").exists() and not (area.dest / "src" / "__pycache__").exists()
    info = workspace.info
    assert (info.source, info.kind, info.ref, info.files) == (str(source), "directory", None, 3)
    assert info.bytes == len("print('model')\n") + len("#!/bin/sh\n")
    assert info.digest == tree_digest(area.dest)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/etc/passwd", "submission entry 'evil' is a symlink to '/etc/passwd', an absolute path outside"),
        (
            "../../etc/passwd",
            "submission entry 'evil' is a symlink to '../../etc/passwd', which points outside",
        ),
    ],
)
def test_directory_with_a_link_leaving_it_is_refused(area: Area, target: str, message: str) -> None:
    source = make_tree(area.root / "sub")
    (source / "evil").symlink_to(target)
    area.snapshot()
    with refused(message):
        open_submission(str(source), area.dest)
    area.assert_nothing_outside()


def test_directory_with_a_fifo_is_refused(area: Area) -> None:
    source = make_tree(area.root / "sub")
    os.mkfifo(source / "pipe")
    with refused("submission entry 'pipe' is a fifo"):
        open_submission(str(source), area.dest)


def test_directory_over_the_file_limit_is_refused(area: Area) -> None:
    source = area.root / "sub"
    source.mkdir()
    for index in range(6):
        (source / f"f{index}.txt").write_text("x")
    with refused("submission entry 'f5.txt' goes over the limit of 5 files"):
        open_submission(str(source), area.dest, limits=SMALL)


# --- archives ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar", ".zip"])
def test_archive_with_one_top_folder_is_unwrapped(area: Area, suffix: str) -> None:
    archive = area.root / f"submission{suffix}"
    if suffix == ".zip":
        archive.write_bytes(
            zip_bytes(
                [("repo-main/", b"", stat.S_IFDIR | 0o755), ("repo-main/run.sh", b"#!/bin/sh\n", 0o100755)]
            )
            + b""
        )
    else:
        members = [tar_dir("repo-main"), tar_file("repo-main/run.sh", b"#!/bin/sh\n", 0o755)]
        archive.write_bytes(tar_bytes(members, compressed=suffix != ".tar"))

    workspace = open_submission(str(archive), area.dest)

    assert sorted(p.name for p in area.dest.iterdir()) == ["run.sh"]
    assert stat.S_IMODE(os.lstat(area.dest / "run.sh").st_mode) == 0o755
    assert (workspace.info.kind, workspace.info.files, workspace.info.bytes) == ("archive", 1, 10)


def test_unwrapping_keeps_a_child_named_like_the_top_folder(area: Area) -> None:
    archive = area.root / "s.tar"
    archive.write_bytes(tar_bytes([tar_file("repo/repo/x.txt"), tar_file("repo/y.txt")]))
    open_submission(str(archive), area.dest)
    assert sorted(p.name for p in area.dest.iterdir()) == ["repo", "y.txt"]
    assert (area.dest / "repo" / "x.txt").is_file()


def test_archive_with_two_top_entries_is_not_unwrapped(area: Area) -> None:
    archive = area.root / "s.tar"
    archive.write_bytes(tar_bytes([tar_file("repo/x.txt"), tar_file("README.md")]))
    open_submission(str(archive), area.dest)
    assert sorted(p.name for p in area.dest.iterdir()) == ["README.md", "repo"]


def test_unwrapping_refuses_a_link_that_only_stayed_inside_through_the_top_folder(area: Area) -> None:
    archive = area.root / "s.tar"
    archive.write_bytes(tar_bytes([tar_file("top/b.txt"), tar_link("top/a", "../top/b.txt")]))
    with refused("'a' is a symlink to '../top/b.txt', which points outside"):
        open_submission(str(archive), area.dest)


def test_tar_keeps_inner_links_and_normalises_modes(area: Area) -> None:
    members = [
        tar_file("bin/tool", b"#!/bin/sh\n", 0o4775),
        tar_file("secret.txt", b"s", 0o600),
        tar_link("bin/alias", "tool"),
        tar_link("copy.txt", "secret.txt", tarfile.LNKTYPE),
    ]
    stats = extract_tar(io.BytesIO(tar_bytes(members, compressed=True)), area.dest, SMALL, compressed=True)
    assert (stats.files, stats.bytes) == (4, 12)
    assert stat.S_IMODE(os.lstat(area.dest / "bin" / "tool").st_mode) == 0o755  # setuid dropped
    assert stat.S_IMODE(os.lstat(area.dest / "secret.txt").st_mode) == 0o644
    assert os.readlink(area.dest / "bin" / "alias") == "tool"
    assert (area.dest / "copy.txt").read_bytes() == b"s"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            [tar_file("../victim/evil.txt")],
            "archive entry '../victim/evil.txt' escapes the submission folder",
        ),
        ([tar_file("a/../../evil.txt")], "archive entry 'a/../../evil.txt' escapes the submission folder"),
        ([tar_file("/tmp/evil.txt")], "archive entry '/tmp/evil.txt' is an absolute path"),
        (
            [tar_link("passwd", "/etc/passwd")],
            "'passwd' is a symlink to '/etc/passwd', an absolute path outside",
        ),
        (
            [tar_link("a/up", "../../etc")],
            "archive entry 'a/up' is a symlink to '../../etc', which points outside",
        ),
        ([tar_link("h", "/etc/passwd", tarfile.LNKTYPE)], "'h' is a hard link to '/etc/passwd', outside"),
        ([tar_link("h", "../victim/x", tarfile.LNKTYPE)], "'h' is a hard link to '../victim/x', outside"),
        ([tar_link("h", "missing.txt", tarfile.LNKTYPE)], "which is not a file extracted before it"),
        ([tar_special("null", tarfile.CHRTYPE)], "archive entry 'null' is a character device"),
        ([tar_special("disk", tarfile.BLKTYPE)], "archive entry 'disk' is a block device"),
        ([tar_special("pipe", tarfile.FIFOTYPE)], "archive entry 'pipe' is a fifo"),
    ],
    ids=[
        *("dotdot", "inner-dotdot", "absolute", "link-abs", "link-up"),
        *("hard-abs", "hard-up", "hard-missing", "chr", "blk", "fifo"),
    ],
)
def test_tar_entry_breaking_a_rule_is_refused_by_name(
    area: Area, members: list[tuple[tarfile.TarInfo, bytes | None]], message: str
) -> None:
    with refused(message):
        untar(area, members)
    area.assert_nothing_outside()


def test_tar_cannot_write_through_a_link_to_outside(area: Area) -> None:
    members = [tar_link("a", str(area.victim)), tar_file("a/evil", b"pwned")]
    with refused("an absolute path outside the submission folder"):
        untar(area, members)
    area.assert_nothing_outside()


def test_tar_never_writes_through_an_earlier_link_even_one_inside(area: Area) -> None:
    members = [tar_dir("real"), tar_link("a", "real"), tar_file("a/evil", b"pwned")]
    with refused("archive entry 'a/evil' would be written through the symlink 'a'"):
        untar(area, members)
    assert not (area.dest / "real" / "evil").exists()


def test_tar_link_redirected_by_a_later_link_is_refused(area: Area) -> None:
    # 'm' looks inside when written; 'l -> .' added afterwards makes it lead to the parent folder.
    members = [tar_link("m", "l/../victim"), tar_link("l", ".")]
    with refused("'m' is a symlink to 'l/../victim', which points outside"):
        untar(area, members)


def test_tar_over_the_file_limit_is_refused(area: Area) -> None:
    members = [tar_file(f"f{index}.txt") for index in range(7)]
    with refused("archive entry 'f5.txt' goes over the limit of 5 files"):
        untar(area, members)
    assert not (area.dest / "f6.txt").exists()


def test_tar_file_over_the_size_limit_is_refused_before_writing(area: Area) -> None:
    with refused("'big.bin' is larger than the limit of 600 bytes per file"):
        untar(area, [tar_file("big.bin", b"x" * 601)])
    assert not (area.dest / "big.bin").exists()


def test_tar_total_limit_stops_extraction_at_the_entry_that_crosses_it(area: Area) -> None:
    members = [tar_file(f"part{index}.bin", b"x" * 400) for index in range(4)]
    with refused("'part2.bin' takes the submission over the limit of 1000 bytes"):
        untar(area, members)
    written = sum(path.stat().st_size for path in area.dest.iterdir())
    assert written <= 1000 and not (area.dest / "part3.bin").exists()


def test_garbage_is_not_a_readable_tar(area: Area) -> None:
    with refused("archive is not a readable tar.gz file"):
        extract_tar(io.BytesIO(b"not a tar at all" * 100), area.dest, SMALL, compressed=True)


def test_zip_keeps_exec_bits_and_inner_links(area: Area) -> None:
    path = area.root / "s.zip"
    path.write_bytes(
        zip_bytes([("run.sh", b"#!/bin/sh\n", 0o100755), ("alias", b"run.sh", stat.S_IFLNK | 0o777)])
    )
    stats = extract_zip(path, area.dest, SMALL)
    assert (stats.files, stats.bytes) == (2, 10)
    assert stat.S_IMODE(os.lstat(area.dest / "run.sh").st_mode) == 0o755
    assert os.readlink(area.dest / "alias") == "run.sh"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [("../victim/evil.txt", b"x", 0o100644)],
            "archive entry '../victim/evil.txt' escapes the submission folder",
        ),
        ([("/tmp/evil.txt", b"x", 0o100644)], "archive entry '/tmp/evil.txt' is an absolute path"),
        ([("..\\victim\\evil.txt", b"x", 0o100644)], "archive entry '../victim/evil.txt' escapes"),
        ([("passwd", b"/etc/passwd", stat.S_IFLNK | 0o777)], "'passwd' is a symlink to '/etc/passwd'"),
        ([("up", b"../..", stat.S_IFLNK | 0o777)], "'up' is a symlink to '../..', which points outside"),
        ([("dev", b"", stat.S_IFCHR | 0o644)], "archive entry 'dev' is a character device"),
        ([(f"f{n}", b"x", 0o100644) for n in range(6)], "archive has 6 entries, over the limit of 5 files"),
        (
            [("big.bin", b"x" * 601, 0o100644)],
            "'big.bin' declares 601 bytes, over the limit of 600 bytes per file",
        ),
        (
            [(f"f{n}", b"x" * 400, 0o100644) for n in range(3)],
            "archive declares 1200 bytes, over the limit of 1000",
        ),
    ],
    ids=["dotdot", "absolute", "backslash", "link-abs", "link-up", "chr", "count", "file-size", "total-size"],
)
def test_zip_entry_breaking_a_rule_is_refused_by_name(
    area: Area, entries: list[tuple[str, bytes, int]], message: str
) -> None:
    path = area.root / "s.zip"
    path.write_bytes(zip_bytes(entries))
    area.snapshot()
    with refused(message):
        extract_zip(path, area.dest, SMALL)
    area.assert_nothing_outside()


def test_zip_bomb_declaring_gigabytes_is_refused_before_writing(area: Area) -> None:
    path = area.root / "bomb.zip"
    path.write_bytes(declare_size(zip_bytes([("bomb.bin", b"\0" * 1000, 0o100644)]), 4_000_000_000))
    with refused("'bomb.bin' declares 4000000000 bytes, over the limit of"):
        extract_zip(path, area.dest, ExtractLimits())
    assert not area.dest.exists() or list(area.dest.iterdir()) == []


def test_zip_entry_compressed_beyond_200_to_1_is_refused(area: Area) -> None:
    path = area.root / "bomb.zip"
    path.write_bytes(zip_bytes([("zeros.bin", b"\0" * 5 * 1024 * 1024, 0o100644)]))
    with pytest.raises(
        SubmissionError, match=r"'zeros.bin' has a compression ratio of \d+:1, over the limit of 200:1"
    ):
        extract_zip(path, area.dest, ExtractLimits())
    assert not area.dest.exists() or list(area.dest.iterdir()) == []


def test_zip_lying_about_its_size_never_writes_more_than_it_declared(area: Area) -> None:
    path = area.root / "liar.zip"
    path.write_bytes(declare_size(zip_bytes([("liar.bin", os.urandom(50_000), 0o100644)]), 10))
    with refused("archive entry 'liar.bin' is corrupt"):
        extract_zip(path, area.dest, SMALL)
    assert (area.dest / "liar.bin").stat().st_size <= 10


def test_writer_counts_actual_bytes_when_a_declared_size_lies(area: Area) -> None:
    writer = TreeWriter(area.dest, SMALL)
    with refused("'liar.bin' holds more than the 10 bytes it declares"):
        writer.add_file("liar.bin", io.BytesIO(b"x" * 500), executable=False, declared=10)
    writer = TreeWriter(area.root / "dest2", SMALL)
    with refused("'big.bin' is larger than the limit of 600 bytes per file"):
        writer.add_file("big.bin", io.BytesIO(b"x" * 5000), executable=False)
    assert (area.root / "dest2" / "big.bin").stat().st_size == 0  # refused before the chunk was written


# --- git ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected_commit", "expected_file"),
    [
        ("HEAD", "second", ("train.py", "v2\n")),
        ("main", "second", ("train.py", "v2\n")),
        ("v1", "first", ("train.py", "v1\n")),
        ("feature", "feature", ("feature.txt", "f\n")),
        ("first", "first", ("train.py", "v1\n")),  # a commit sha, looked up below
    ],
)
def test_git_ref_selects_what_is_exported(
    area: Area, repo: dict[str, str], ref: str | None, expected_commit: str, expected_file: tuple[str, str]
) -> None:
    chosen = repo["first"] if ref == "first" else ref
    workspace = open_submission(repo["path"], area.dest, ref=chosen)
    name, text = expected_file
    assert (area.dest / name).read_text() == text
    assert not (area.dest / ".git").exists()
    assert workspace.info.kind == "git" and workspace.info.ref == repo[expected_commit]


@pytest.mark.parametrize("form", ["bare", "file-url"])
def test_git_bare_repositories_and_file_urls_are_cloned(area: Area, repo: dict[str, str], form: str) -> None:
    bare = area.root / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", repo["path"], str(bare)], check=True)
    source = str(bare) if form == "bare" else bare.as_uri()
    workspace = open_submission(source, area.dest, ref="v1")
    assert (area.dest / "train.py").read_text() == "v1\n"
    assert workspace.info.source == source and workspace.info.ref == repo["first"]


def test_git_runs_no_hooks_or_filters_from_the_repository_or_the_user(
    area: Area, repo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, marker = Path(repo["path"]), area.root / "ran"
    commit(path, {".gitattributes": "*.txt filter=evil\n", "data.txt": "plain\n"}, "attributes")
    hook = f"#!/bin/sh\ntouch {marker}\n"
    templates = area.root / "templates" / "hooks"
    templates.mkdir(parents=True)
    for hooks in (path / ".git" / "hooks", templates):
        (hooks / "post-checkout").write_text(hook)
        (hooks / "post-checkout").chmod(0o755)
    evil = f"touch {marker}; cat"
    git(path, "config", "filter.evil.smudge", evil)
    git(path, "config", "core.fsmonitor", f"touch {marker}; false")
    home = area.root / "home"
    home.mkdir()
    config = f'[filter "evil"]\n\tsmudge = {evil}\n[init]\n\ttemplateDir = {templates.parent}\n'
    (home / ".gitconfig").write_text(config)
    monkeypatch.setenv("HOME", str(home))
    # The trap is armed: a plain clone with this user's config runs the hook and the filter.
    subprocess.run(["git", "clone", "-q", str(path), str(area.root / "naive")], check=True)
    assert marker.exists()
    marker.unlink()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_DIR", str(area.root / "nowhere"))

    open_submission(str(path), area.dest)

    assert not marker.exists()
    assert (area.dest / "data.txt").read_text() == "plain\n"
    assert (area.dest / ".gitattributes").is_file()


def test_git_submodules_are_not_fetched(area: Area, repo: dict[str, str]) -> None:
    library = init_repo(area.root / "library")
    commit(library, {"secret.py": "x = 1\n"}, "library")
    path = Path(repo["path"])
    git(path, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/library")
    git(path, "commit", "-q", "-m", "submodule")

    open_submission(str(path), area.dest, ref="HEAD")

    assert (area.dest / ".gitmodules").is_file()
    assert not (area.dest / "vendor" / "library" / "secret.py").exists()


def test_git_unknown_ref_is_refused(area: Area, repo: dict[str, str]) -> None:
    with refused(f"git ref 'nope' is not a commit in {repo['path']!r}"):
        open_submission(repo["path"], area.dest, ref="nope")


def test_git_missing_remote_is_refused_with_gits_reason(area: Area) -> None:
    source = (area.root / "gone.git").as_uri()
    with refused(f"git could not clone {source!r}: "):
        open_submission(source, area.dest)


def test_git_clone_timeout_is_refused(
    area: Area, repo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("grader.intake.git.GIT_TIMEOUT_S", 0.001)
    with refused("timed out after 0s"):
        open_submission(repo["path"], area.dest, ref="HEAD")


def test_a_work_tree_without_a_ref_is_graded_as_it_is_on_disk(area: Area, repo: dict[str, str]) -> None:
    (Path(repo["path"]) / "train.py").write_text("edited, not committed\n")
    workspace = open_submission(repo["path"], area.dest)
    assert workspace.info.kind == "directory"
    assert (area.dest / "train.py").read_text() == "edited, not committed\n"
    assert not (area.dest / ".git").exists()


FAKE_GIT = """#!/bin/sh
for arg in "$@"; do last="$arg"; done
case " $* " in
  *" clone "*) mkdir -p "$last" ;;
  *" rev-parse "*) echo 0123456789abcdef0123456789abcdef01234567 ;;
  *" archive "*) {archive} ;;
esac
"""


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        ("sleep 30", "git archive of 0123456789abcdef0123456789abcdef01234567 timed out after 1s"),
        (
            "echo 'fatal: disk on fire' >&2; exit 128",
            "git archive of 0123456789abcdef0123456789abcdef01234567 failed: fatal: disk on fire",
        ),
    ],
    ids=["hangs", "fails"],
)
def test_git_archive_that_hangs_or_fails_is_refused(
    area: Area, monkeypatch: pytest.MonkeyPatch, archive: str, message: str
) -> None:
    bin_dir = area.root / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(FAKE_GIT.format(archive=archive))
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr("grader.intake.git.GIT_TIMEOUT_S", 1.0)
    with refused(message):
        open_submission("https://example.invalid/student/capstone.git", area.dest)


# --- sources and digests -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["missing", "notes.rar"])
def test_unknown_source_is_refused(area: Area, name: str) -> None:
    (area.root / "notes.rar").write_bytes(b"Rar!")
    with refused(f"submission '{area.root / name}' {EXPECTED}"):
        open_submission(str(area.root / name), area.dest)


def test_ref_for_a_plain_folder_is_refused(area: Area) -> None:
    with refused("is not a git repository"):
        open_submission(str(make_tree(area.root / "sub")), area.dest, ref="main")


def test_workspace_folder_must_be_new_or_empty(area: Area) -> None:
    area.dest.mkdir()
    (area.dest / "left-over").write_text("x")
    with pytest.raises(BadInputError, match="must not exist yet or be empty"):
        open_submission(str(make_tree(area.root / "sub")), area.dest)


def test_digest_is_stable_across_copies_and_sources(area: Area, repo: dict[str, str]) -> None:
    source = make_tree(area.root / "sub")
    first = open_submission(str(source), area.root / "one").info.digest
    assert open_submission(str(source), area.root / "two").info.digest == first
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    exported = open_submission(repo["path"], area.root / "from-git").info.digest
    (area.root / "plain").mkdir()
    (area.root / "plain" / "train.py").write_text("v2\n")
    assert open_submission(str(area.root / "plain"), area.root / "from-dir").info.digest == exported


@pytest.mark.parametrize("change", ["content", "exec-bit", "link-target", "new-empty-dir"])
def test_digest_changes_when_the_tree_changes(area: Area, change: str) -> None:
    source = make_tree(area.root / "sub")
    before = tree_digest(source)
    if change == "content":
        (source / "src" / "model.py").write_text("print('other')\n")
    elif change == "exec-bit":
        (source / "src" / "model.py").chmod(0o755)
    elif change == "link-target":
        (source / "src" / "link.py").unlink()
        (source / "src" / "link.py").symlink_to("../run.sh")
    else:
        (source / "empty").mkdir()
    assert tree_digest(source) != before
