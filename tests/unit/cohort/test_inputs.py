"""Reading what a batch grades: rosters (ours and GitHub Classroom's), folders of submissions, paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cohort.inputs import read_folder, read_paths, read_roster
from grader.errors import BadInputError
from grader.results.export.entries import safe_stem as folder_name


def roster(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_our_roster_columns_with_an_optional_ref(tmp_path):
    path = roster(tmp_path, "candidate,repository,ref\nalice,https://git.invalid/a.git,main\nbob,repos/bob,\n")
    inputs = read_roster(path)
    assert [(i.candidate, i.source, i.ref, i.problem) for i in inputs] == [
        ("alice", "https://git.invalid/a.git", "main", None),
        ("bob", str((tmp_path / "repos" / "bob").resolve()), None, None)]


def test_github_classroom_grades_export_is_read_as_it_is(tmp_path):
    # The columns of GitHub Classroom's "Download grades" export, in its order; a spreadsheet's byte-order mark.
    text = ("assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
            "student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available\n"
            "capstone,https://classroom.invalid/a/1,,alice-gh,alice@uni.invalid,capstone-alice-gh,"
            "https://git.invalid/org/capstone-alice-gh,2026-05-01 10:00:00 UTC,0,100\n")
    inputs = read_roster(roster(tmp_path, text, encoding="utf-8-sig"))
    assert [(i.candidate, i.source) for i in inputs] == [("alice@uni.invalid", "https://git.invalid/org/capstone-alice-gh")]


def test_a_roster_without_a_repository_column_is_refused_naming_its_columns(tmp_path):
    with pytest.raises(BadInputError, match=r"no repository column \(its columns: candidate, repo_link\)"):
        read_roster(roster(tmp_path, "candidate,repo_link\nalice,x\n"))


def test_a_roster_without_any_known_column_names_both(tmp_path):
    with pytest.raises(BadInputError, match="no candidate and no repository column"):
        read_roster(roster(tmp_path, "who,where\nalice,x\n"))


def test_a_missing_roster_file_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        read_roster(tmp_path / "nope.csv")


def test_row_problems_become_that_candidates_error_and_the_others_are_kept(tmp_path):
    path = roster(tmp_path, "candidate,repository\nalice,a\nbob,b\nalice,c\ncarol,\n,d\n\ndave,e\n")
    by_name = {i.candidate: i for i in read_roster(path)}
    assert set(by_name) == {"alice", "bob", "carol", "row-6", "dave"}
    assert by_name["alice"].problem == ("candidate 'alice' is listed 2 times in roster.csv (lines 2, 4): keep one row "
                                        "and run the batch again")
    assert by_name["carol"].problem == "roster.csv line 5: the repository cell is empty"
    assert by_name["row-6"].problem == "roster.csv line 6: the candidate cell is empty"
    assert by_name["bob"].problem is None and by_name["dave"].problem is None


def test_a_folder_gives_one_candidate_per_subfolder_or_archive(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "train.py").write_text("")
    (tmp_path / "bob.zip").write_bytes(b"PK")
    (tmp_path / "carol.tar.gz").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a submission")
    (tmp_path / ".hidden").mkdir()
    inputs = read_folder(tmp_path)
    assert [(i.candidate, Path(i.source).name, i.problem) for i in inputs] == [
        ("alice", "alice", None), ("bob", "bob.zip", None), ("carol", "carol.tar.gz", None),
        ("empty", "empty", "the submission folder empty/ is empty")]


def test_an_empty_submissions_folder_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="holds no submissions"):
        read_folder(tmp_path)


def test_paths_are_named_after_their_last_component_and_kept_apart(tmp_path):
    for name in ("a/alice", "b/alice"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "x").write_text("")
    inputs = read_paths([str(tmp_path / "a/alice"), str(tmp_path / "b/alice"), "https://git.invalid/org/bob.git"])
    assert [i.candidate for i in inputs] == ["alice", "alice-2", "bob"]


def test_folder_names_are_safe_and_distinct():
    assert folder_name("alice") == "alice"
    unsafe = folder_name("../../etc/passwd")
    assert "/" not in unsafe and not unsafe.startswith(".")
    assert folder_name("a b") != folder_name("a_b")
