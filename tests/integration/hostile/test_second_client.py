"""A server that answers the grader correctly and every other client wrongly fails ``client-consistency``.

The hostile server remembers the address of its first ``/predict`` caller — the grader's probe — and gives
every other address a wrong prediction: the probe's own parity check is fooled, the second client (other
containers, curl's shape; two at once, since the engine may hand the probe's address to the next container)
is not. One real grading of the mlops-capstone reference with that ``app.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import integrity_support as support  # noqa: E402
from capstone_copies import lab_with_check, patched_reference  # noqa: E402

CONSISTENCY_CHECK = {"id": "same-answers-for-everyone", "title": "Same answers for every client",
                     "type": "client-consistency", "points": 2, "requests": 5, "needs": ["model-registered"]}
HONEST_PREDICT = "        return PredictResponse(prediction=str(prediction[0]))\n"
HOSTILE_PREDICT = """\
        caller = request.client.host if request.client else ""
        grader = FIRST_CALLER.setdefault("address", caller)  # the probe calls first
        answer = str(prediction[0]) if caller == grader else "not-" + str(prediction[0])
        return PredictResponse(prediction=answer)
"""
FIRST_CALLER = ('PREDICT_PATH = "/predict"\n', 'PREDICT_PATH = "/predict"\nFIRST_CALLER: dict[str, str] = {}\n')


def test_a_server_that_answers_only_the_probe_correctly_fails(tmp_path: Path, docker_client, runtime_image) -> None:
    lab = lab_with_check(tmp_path / "lab", CONSISTENCY_CHECK)
    submission = patched_reference(tmp_path / "submission", "app.py", [FIRST_CALLER, (HONEST_PREDICT,
                                                                                       HOSTILE_PREDICT)])
    out = tmp_path / "out"

    result = support.run_grade(submission, lab, out, scratch=tmp_path / "scratch")

    report = support.read_report(out)
    checks = {check["id"]: check for check in report["checks"]}
    consistency = checks["same-answers-for-everyone"]
    assert consistency["status"] == "fail", (consistency, result.stderr)
    assert consistency["message"].startswith("the server answered the grader's probe differently from another "
                                             "client on ")
    assert "the other client 200 'not-" in consistency["message"]
    fooled = [c for c in report["checks"] if c["type"] == "http" and c["status"] == "pass"]
    assert fooled, "the probe's own checks were expected to be fooled by this server"
