"""An unexpected error in the grader: exit 3, the message on stderr, and the details in a file of its own."""

from __future__ import annotations

import grader.cli as cli


def test_each_crash_writes_its_own_bounded_details_file(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GRADER_CRASH_DIR", str(tmp_path / "crashes"))

    def crash(args, paths, err):
        raise RuntimeError("boom \udcff" + "x" * (2 * cli.CRASH_DETAILS_LIMIT))

    monkeypatch.setitem(cli.COMMANDS, "results", crash)
    assert cli.main(["results"]) == 3
    assert cli.main(["results"]) == 3

    logs = sorted((tmp_path / "crashes").iterdir())
    assert len(logs) == 2  # one per crash: no shared log a submission could grow
    text = logs[0].read_text()
    assert text.startswith("capstone-grader ") and "RuntimeError" in text
    assert len(text) < cli.CRASH_DETAILS_LIMIT + 200
    assert "internal error: RuntimeError: boom" in capsys.readouterr().err
