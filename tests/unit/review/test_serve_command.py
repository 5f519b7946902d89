"""``grader serve`` refuses to start where it would be unsafe or cannot listen, with exit code 2 and a reason."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from grader.cli import main


def test_serving_off_loopback_without_a_token_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_SERVE_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--db", str(tmp_path / "r.sqlite3")]) == 2
    assert "not a loopback address" in capsys.readouterr().err


def test_an_empty_token_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "token"
    empty.write_text("")
    assert main(["serve", "--host", "0.0.0.0", "--token-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err


def test_a_port_in_use_is_refused_with_the_way_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--db", str(tmp_path / "r.sqlite3")]) == 2
    assert "choose another --port" in capsys.readouterr().err
