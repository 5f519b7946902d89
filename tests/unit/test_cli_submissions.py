"""Unusable submissions stop before any sandbox exists: exit code 2 and a message naming the problem."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from grader.cli import main


def _tar_with(tmp_path, name: str, *, link: str | None = None):
    path = tmp_path / "submission.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(name)
        if link is not None:
            info.type, info.linkname = tarfile.SYMTYPE, link
            archive.addfile(info)
        else:
            data = b"print('hi')\n"
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(("build", "fragment"), [
    (lambda tmp: _tar_with(tmp, "../escape.py"), "escapes the submission folder"),
    (lambda tmp: _tar_with(tmp, "/abs/path.py"), "/abs/path.py"),
    (lambda tmp: _tar_with(tmp, "data", link="/etc/passwd"), "/etc/passwd"),
], ids=["dot-dot", "absolute", "symlink-out"])
def test_an_unsafe_archive_is_refused_with_exit_code_2(tmp_path, capsys, build, fragment):
    archive = build(tmp_path)
    code = main(["grade", str(archive), "--lab", "train-and-test", "--out", str(tmp_path / "out"), "--no-store"])
    assert code == 2
    assert fragment in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "out").exists()


def test_a_corrupt_zip_is_refused_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "submission.zip"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert main(["grade", str(path), "--lab", "train-and-test", "--no-store"]) == 2
    assert "submission" in capsys.readouterr().err


def test_a_zip_bomb_is_refused_before_extraction(tmp_path, capsys):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (300 * 1024**2))
    assert main(["grade", str(path), "--lab", "train-and-test", "--no-store"]) == 2
    assert "zeros.bin" in capsys.readouterr().err.replace("\n", "")
