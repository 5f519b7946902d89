"""Whether the model server answers the grader's probe as it answers another client.

The probe's parity requests are resent by ``grader/probe/second_client.py`` — two other containers at once,
another client shape (curl's headers, one connection per request) — and each pair of answers is compared: the
status class and the decoded prediction must agree.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from grader.evidence.answers import HttpAnswer, batch
from grader.evidence.run_data import RunData
from grader.evidence.serving import decode_prediction
from grader.evidence.serving_observation import ServingObservation

SECOND_CLIENT = "second_client"
CONTAINERS = 2


@dataclass(frozen=True)
class AnswerPair:
    """The probe's answer and the second client's to the same request body."""

    row: int
    probe: HttpAnswer
    other: HttpAnswer

    @staticmethod
    def _meaning(answer: HttpAnswer) -> tuple[str, object]:
        if not answer.ok:
            return "no valid answer", answer.describe_status()
        return "prediction", decode_prediction(answer.body)

    @property
    def agree(self) -> bool:
        return self._meaning(self.probe) == self._meaning(self.other)

    def describe(self) -> str:
        def said(answer: HttpAnswer) -> str:
            kind, value = self._meaning(answer)
            return f"{answer.describe_status()} {value!r}" if kind == "prediction" else f"{value}"

        return f"row {self.row}: the probe got {said(self.probe)}, the other client {said(self.other)}"


@dataclass(frozen=True)
class ClientConsistency:
    """Every compared pair, in row order."""

    pairs: tuple[AnswerPair, ...]

    @property
    def disagreements(self) -> tuple[AnswerPair, ...]:
        return tuple(pair for pair in self.pairs if not pair.agree)


def observe_second_client(data: RunData, serving: ServingObservation, rows: int) -> ClientConsistency:
    """Resend the first ``rows`` parity requests from the second client and pair the answers. Two such
    containers run at once: the engine may give one the address the probe's container had, never both."""
    count = min(rows, len(serving.parity), len(serving.bodies))
    if count == 0:
        return ClientConsistency(())
    plan = {"url": serving.predict_url, "bodies": list(serving.bodies[:count]), "timeout": 10}
    with ThreadPoolExecutor(max_workers=CONTAINERS) as pool:
        runs = list(pool.map(lambda _: batch(data.run_probe(SECOND_CLIENT, plan, [], None)[-1]), range(CONTAINERS)))
    missing = HttpAnswer(status=None, error="no answer")
    return ClientConsistency(tuple(AnswerPair(row=i + 1, probe=serving.parity[i],
                                              other=answers[i] if i < len(answers) else missing)
                                   for answers in runs for i in range(count)))
