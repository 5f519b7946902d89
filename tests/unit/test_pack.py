"""Public bundles (`grader lab pack --public`): an allow-list of files, no hidden check, no byte of hidden data,
digests that detect a changed bundle, and `grader check`'s choice of what it may grade with."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from grader.cli import main
from grader.cli.check import resolve_checked_lab, unpack_bundle
from grader.errors import BadInputError, LabError
from grader.labs.loading import list_lab_ids, load_lab
from grader.labs.pack import (
    BUNDLE_GUIDE,
    BUNDLE_MANIFEST,
    BUNDLE_RUBRIC,
    bundle_problems,
    pack_public_bundle,
    public_data_files,
    public_rubric_data,
    read_bundle_manifest,
)
from grader.models import Visibility
from grader.paths import project_paths

PATHS = project_paths()
LABS = list_lab_ids(PATHS)
LABS_WITH_HIDDEN_DATA = [lab for lab in LABS if load_lab(lab, PATHS).lab.hidden]
WINDOW, STRIDE = 24, 8


def all_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def every_window(blob: bytes) -> set[bytes]:
    return {blob[i:i + WINDOW] for i in range(len(blob) - WINDOW + 1)}


def distinctive_windows(secret: bytes, public: list[bytes]) -> set[bytes]:
    """Windows of ``secret`` (every ``STRIDE`` bytes, so any copied run of ``WINDOW + STRIDE`` bytes holds one)
    that occur in none of the lab's public files: finding one anywhere else is a leak."""
    seen = set().union(*(every_window(blob) for blob in public))
    return {secret[i:i + WINDOW] for i in range(0, len(secret) - WINDOW + 1, STRIDE)} - seen


def leaked_windows(bundle: Path, lab_id: str) -> list[str]:
    lab = load_lab(lab_id, PATHS)
    public = [(lab.directory / p).read_bytes() for p in public_data_files(lab)]
    in_bundle = {path: every_window(blob) for path, blob in all_files(bundle).items()}
    leaks = []
    for name, source in lab.lab.hidden.items():
        windows = distinctive_windows((lab.directory / source).read_bytes(), public)
        # Most of a hidden file is its own: the scan must have something to look for.
        assert len(windows) > 100, f"{lab_id}/{name}: too few distinctive windows to prove anything"
        leaks += [f"{name} in {path}" for path, found in in_bundle.items() if found & windows]
    return leaks


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundles")
    return {lab: (pack_public_bundle(lab, PATHS, root / lab), root / lab)[1] for lab in LABS}


@pytest.mark.parametrize("lab_id", LABS_WITH_HIDDEN_DATA)
def test_bundle_holds_no_byte_window_of_hidden_data(bundles, lab_id, tmp_path):
    assert leaked_windows(bundles[lab_id], lab_id) == []
    archive = tmp_path / "bundle.tar.gz"
    pack_public_bundle(lab_id, PATHS, archive)
    assert leaked_windows(unpack_bundle(archive, tmp_path / "unpacked"), lab_id) == []


def test_leak_scan_finds_a_hidden_row_copied_into_a_bundle(bundles, tmp_path):
    lab_id = LABS_WITH_HIDDEN_DATA[0]
    lab = load_lab(lab_id, PATHS)
    bundle = tmp_path / "leaky"
    bundle.mkdir()
    for path, blob in all_files(bundles[lab_id]).items():
        (bundle / path).parent.mkdir(parents=True, exist_ok=True)
        (bundle / path).write_bytes(blob)
    hidden_row = (lab.directory / next(iter(lab.lab.hidden.values()))).read_bytes().splitlines()[7]
    with (bundle / BUNDLE_GUIDE).open("ab") as guide:
        guide.write(b"\n" + hidden_row + b"\n")
    assert leaked_windows(bundle, lab_id)


@pytest.mark.parametrize("lab_id", LABS)
def test_bundle_holds_only_the_allowed_files(bundles, lab_id):
    lab = load_lab(lab_id, PATHS)
    expected = {"lab.yaml", BUNDLE_RUBRIC, BUNDLE_GUIDE, BUNDLE_MANIFEST, *public_data_files(lab)}
    assert set(all_files(bundles[lab_id])) == expected
    assert not any(part in {"reference", "variants", "hidden"} for p in expected for part in Path(p).parts)


@pytest.mark.parametrize("lab_id", LABS)
def test_bundle_loads_with_exactly_the_public_checks(bundles, lab_id):
    full, bundle = load_lab(lab_id, PATHS), load_lab(str(bundles[lab_id]), PATHS)
    public = [c for c in full.rubric.rubric.checks if c.visibility is Visibility.public]
    assert bundle.rubric.rubric.checks == public
    assert [c.id for c in bundle.rubric.rubric.checks if c.visibility is Visibility.hidden] == []
    assert bundle.lab.steps == full.lab.steps and bundle.lab.services == full.lab.services
    assert bundle.lab.data == full.lab.data and set(bundle.lab.hidden) == set(full.lab.hidden)
    for name, source in bundle.lab.hidden.items():
        assert source in public_data_files(full), f"stand-in for {name} is not a public file"


def test_manifest_records_versions_digests_hidden_points_and_stand_ins(bundles):
    lab = load_lab("mlops-capstone", PATHS)
    manifest = read_bundle_manifest(bundles["mlops-capstone"])
    assert manifest is not None
    assert (manifest.lab.id, manifest.lab.version) == ("mlops-capstone", lab.lab.version)
    assert manifest.rubric.digest == lab.rubric.digest
    assert (manifest.hidden_checks, manifest.hidden_points) == (1, 8.0)
    assert manifest.stand_ins == {"holdout": "data/valid.csv"}
    assert set(manifest.files) == set(all_files(bundles["mlops-capstone"])) - {BUNDLE_MANIFEST}
    assert list(bundle_problems(bundles["mlops-capstone"], manifest)) == []


def test_a_hidden_set_stands_in_by_the_public_file_named_after_it(bundles):
    manifest = read_bundle_manifest(bundles["drift"])
    assert manifest is not None
    assert manifest.stand_ins == {"holdout": "data/valid.csv", "shifted": "data/shifted/valid.csv"}


def test_bundle_problems_name_changed_added_and_missing_files(bundles, tmp_path):
    bundle = tmp_path / "b"
    pack_public_bundle("train-and-test", PATHS, bundle)
    manifest = read_bundle_manifest(bundle)
    assert manifest is not None
    (bundle / "data" / "train.csv").write_text("changed\n")
    (bundle / "extra.txt").write_text("x")
    (bundle / BUNDLE_GUIDE).unlink()
    problems = list(bundle_problems(bundle, manifest))
    assert any("data/train.csv changed" in p for p in problems)
    assert any("extra.txt was added" in p for p in problems)
    assert any(f"{BUNDLE_GUIDE} is missing" in p for p in problems)


def test_archive_is_reproducible(tmp_path):
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    pack_public_bundle("mlops-capstone", PATHS, first)
    pack_public_bundle("mlops-capstone", PATHS, second)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        assert {m.uname for m in archive.getmembers()} == {""}
        assert all(m.name.startswith("mlops-capstone-public/") or m.name == "mlops-capstone-public"
                   for m in archive.getmembers())


def test_public_rubric_drops_hidden_checks_their_needs_and_empty_sections():
    data = {"id": "r", "title": "R", "sections": [
        {"id": "a", "title": "A", "checks": [
            {"id": "open", "title": "o", "type": "file", "points": 1, "path": "x"},
            {"id": "secret", "title": "s", "type": "file", "points": 2, "path": "y", "visibility": "hidden"},
            {"id": "after", "title": "a", "type": "file", "points": 1, "path": "z", "needs": ["open", "secret"]}]},
        {"id": "b", "title": "B", "checks": [
            {"id": "only-hidden", "title": "h", "type": "file", "points": 1, "path": "w", "visibility": "hidden"}]}]}
    public, dropped = public_rubric_data(data, {"secret", "only-hidden"})
    assert [s["id"] for s in public["sections"]] == ["a"]
    assert [c["id"] for c in public["sections"][0]["checks"]] == ["open", "after"]
    assert public["sections"][0]["checks"][1]["needs"] == ["open"]
    assert dropped == {"after": ["secret"]}
    assert data["sections"][0]["checks"][2]["needs"] == ["open", "secret"]  # the input is left alone


def _tiny_lab(folder: Path, hidden_header: str, public_header: str) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "hidden").mkdir()
    (folder / "data" / "train.csv").write_text(f"{public_header}\n1,2\n")
    (folder / "hidden" / "holdout.csv").write_text(f"{hidden_header}\n3,4\n")
    (folder / "rubric.yaml").write_text(yaml.safe_dump({"id": "tiny", "title": "Tiny", "sections": [
        {"id": "s", "title": "S", "checks": [{"id": "readme", "title": "README", "type": "file", "points": 1,
                                               "path": "README.md"}]}]}))
    (folder / "lab.yaml").write_text(yaml.safe_dump({
        "id": "tiny", "title": "Tiny", "rubric": "rubric.yaml",
        "data": [{"name": "train", "source": "data/train.csv", "target": "/data/train.csv"}],
        "hidden": {"holdout": "hidden/holdout.csv"}}))
    return folder


def test_a_hidden_set_without_a_public_file_of_its_columns_is_refused(tmp_path):
    lab = _tiny_lab(tmp_path / "tiny", "a,b,label", "a,b")
    with pytest.raises(LabError, match=r"hidden data set 'holdout'.*no public stand-in"):
        pack_public_bundle(str(lab), PATHS, tmp_path / "out")


def test_pack_refuses_an_existing_folder_with_files(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(LabError, match="already exists"):
        pack_public_bundle("train-and-test", PATHS, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_check_refuses_a_full_lab_with_hidden_content_unless_told(tmp_path):
    with pytest.raises(BadInputError, match=r"full lab with hidden data \(hidden/holdout.csv\) and 1 hidden check.*"
                       r"grader lab pack mlops-capstone --public.*--include-hidden"):
        resolve_checked_lab("mlops-capstone", PATHS, tmp_path, include_hidden=False)
    instructor = resolve_checked_lab("mlops-capstone", PATHS, tmp_path, include_hidden=True)
    assert instructor.bundle is None and (instructor.directory / "hidden").is_dir()
    # A lab without hidden checks or data has nothing to keep from a candidate.
    assert resolve_checked_lab("capstone-review", PATHS, tmp_path, include_hidden=False).bundle is None


def test_check_takes_a_bundle_archive_or_folder_and_refuses_an_altered_one(tmp_path):
    archive = tmp_path / "tt.tar.gz"
    pack_public_bundle("train-and-test", PATHS, archive)
    unpacked = resolve_checked_lab(str(archive), PATHS, tmp_path / "scratch", include_hidden=False)
    assert unpacked.bundle is not None and unpacked.bundle.lab.id == "train-and-test"
    folder = tmp_path / "tt"
    pack_public_bundle("train-and-test", PATHS, folder)
    assert resolve_checked_lab(str(folder), PATHS, tmp_path, include_hidden=False).bundle is not None
    rubric = folder / BUNDLE_RUBRIC
    rubric.write_text(rubric.read_text().replace("points: 3", "points: 30"))
    with pytest.raises(BadInputError, match=r"rubric\.yaml changed since the bundle was packed.*fresh copy"):
        resolve_checked_lab(str(folder), PATHS, tmp_path, include_hidden=False)


def _tar(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_check_names_a_missing_bundle_file(tmp_path):
    with pytest.raises(BadInputError, match="no such bundle file"):
        resolve_checked_lab(str(tmp_path / "missing.tar.gz"), PATHS, tmp_path, include_hidden=False)


def test_unpacking_refuses_an_archive_without_manifest_or_escaping_its_folder(tmp_path):
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(_tar({"lab/lab.yaml": b"id: x\n"}))
    with pytest.raises(BadInputError, match=r"holds no bundle\.json"):
        unpack_bundle(plain, tmp_path / "a")
    escaping = tmp_path / "escaping.tar.gz"
    escaping.write_bytes(_tar({"../outside.txt": b"x", BUNDLE_MANIFEST: b"{}"}))
    with pytest.raises(BadInputError, match="not a usable bundle"):
        unpack_bundle(escaping, tmp_path / "b")
    assert not (tmp_path / "outside.txt").exists()


def test_cli_pack_needs_public_and_writes_a_bundle(tmp_path, capsys):
    assert main(["lab", "pack", "train-and-test", "--out", str(tmp_path / "x")]) == 2
    assert "add --public" in capsys.readouterr().err
    assert main(["lab", "pack", "train-and-test", "--public", "--out", str(tmp_path / "x.tar.gz")]) == 0
    assert "1 hidden check(s) (1 points) left" in " ".join(capsys.readouterr().out.split())
    unpacked = unpack_bundle(tmp_path / "x.tar.gz", tmp_path / "u")
    assert json.loads((unpacked / BUNDLE_MANIFEST).read_text())["kind"] == "public"


def test_cli_check_refuses_a_full_lab_before_touching_the_engine(tmp_path, capsys):
    code = main(["check", str(tmp_path), "--lab", "train-and-test", "--backend", "no-such-backend"])
    assert code == 2
    assert "full lab with 1 hidden check" in " ".join(capsys.readouterr().err.split())
