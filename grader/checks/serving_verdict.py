"""``http`` ``require: served``: the serving verdict a reviewer gives.

Full points when the server answers the grader's rows with the registered model's predictions; partial
credit when it answers with real predictions (valid for the task, the same answer to the same request,
better than a baseline where the rows have labels) that do not come from the registry — a committed model
file, say; nothing when it answers nothing usable, or dummy or random output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.checks.served_answers import agrees, invalid_value, predictions, quality, unstable
from grader.evidence import Facts, ServingObservation
from grader.evidence.answers import NO_ANSWER
from grader.evidence.served_task import ServedTask
from grader.models import CheckOutcome

if TYPE_CHECKING:
    from grader.checks.http_check import Params

BASELINE_MARGIN = 0.02  # a classifier must beat the majority class by more than this to count as a model


def judge_served(params: Params, facts: Facts, serving: ServingObservation) -> CheckOutcome:
    """The reviewer's serving verdict (see the module docstring)."""
    task = facts.served_task()
    answers = serving.parity[: params.rows]
    served = predictions(task, answers)
    ok = [p for p in served if p.answer.ok]
    evidence: dict[str, Any] = {"rows": task.source, "sent": len(answers), "answered_2xx": len(ok),
                                "first_request": serving.bodies[0] if serving.bodies else None}
    if not ok:
        first = answers[0] if answers else NO_ANSWER
        return CheckOutcome.failed(
            f"none of {len(answers)} prediction requests to {serving.predict_url} got a 2xx answer (first: "
            f"{first.describe_status()}: {first.text[:200]!r}); {_what_was_sent(task)}", **evidence)
    empty = next((p for p in ok if p.value is None), None)
    if empty is not None:
        where = f"at {task.prediction_path!r}" if task.prediction_path else "under a key such as prediction"
        return CheckOutcome.failed(
            f"an answer holds no {task.kind} prediction {where}: {empty.answer.text[:200]!r}; return the "
            "prediction there, or say where it is with task.prediction in capstone.yaml", **evidence)
    values = [p.value for p in ok]
    problem = invalid_value(task, values)
    if problem is not None:
        return CheckOutcome.failed(f"the answers are not predictions for this task: {problem}", **evidence)
    repeat = unstable(task, served, predictions(task, serving.counter_window))
    if repeat is not None:
        return CheckOutcome.failed(
            f"the same request got two different answers (row {repeat + 1}): the server does not answer from a "
            "trained model (random or dummy output)", **evidence)
    registry_note, matched = _registry_agreement(params, facts, served)
    evidence["registered_model"] = registry_note
    failures = f" ({len(answers) - len(ok)} of {len(answers)} requests failed)" if len(ok) < len(answers) else ""
    if matched:
        return CheckOutcome.passed(f"{registry_note}{failures}", **evidence)
    scored = quality(task, [p.value for p in served])
    if scored is not None:
        score, baseline, metric = scored
        evidence.update({metric: round(score, 4), "baseline": round(baseline, 4)})
        if score <= baseline + (BASELINE_MARGIN if task.kind == "classification" else 0.0):
            return CheckOutcome.failed(
                f"{registry_note}, and the answers are no better than a baseline on {task.source} ({metric} "
                f"{score:.2f}, baseline {baseline:.2f}): dummy or random output", **evidence)
    quality_note = f", {scored[2]} {scored[0]:.2f} on the grader's rows" if scored is not None else ""
    return CheckOutcome.partial(
        params.partial_credit,
        f"the server answers valid predictions{quality_note}{failures}, but {registry_note}: load the registered "
        f"model ({facts.manifest.model.uri}, given as MODEL_URI) instead of a file of your own", **evidence)


def _what_was_sent(task: ServedTask) -> str:
    if task.declared:
        return "check the request body the server expects against task.request in capstone.yaml"
    features = ", ".join(task.features)
    return (f"capstone.yaml has no task: section, so the grader sent the lab's default task ({features}): describe "
            "your own (data, features, label, request, prediction; see docs/manifest.md)")


def _registry_agreement(params: Params, facts: Facts, served: list[Any]) -> tuple[str, bool]:
    """What the registry says about the answers, and whether they are the registered model's."""
    task = facts.served_task()
    evaluation = facts.model_evaluation()
    reference = evaluation.predictions.get(task.dataset)
    if evaluation.version is None:
        return f"they do not come from a registered model: {_nothing_registered(facts)}", False
    name = f"{evaluation.version.name!r} version {evaluation.version.version}"
    if reference is None:
        why = evaluation.load_error or evaluation.errors.get(task.dataset, "it made no predictions")
        return f"the registered model {name} could not be evaluated ({why[:300]})", False
    agree = sum(agrees(task, p.value, expected) for p, expected in zip(served, reference, strict=False))
    share = agree / len(served) if served else 0.0
    if share >= params.min_agreement:
        return f"{agree}/{len(served)} answers match the registered model {name}", True
    return f"only {agree}/{len(served)} answers match the registered model {name}, so they do not come from it", False


def _nothing_registered(facts: Facts) -> str:
    model = facts.manifest.model
    lab_default = (facts.lab.lab.manifest.get("model") or {}).get("name")
    where = f"alias {model.alias!r}" if model.alias else f"stage {model.stage!r}" if model.stage else "any version"
    if model.name == lab_default:
        return (f"nothing was registered under {model.name!r}, the lab's default name (capstone.yaml declares no "
                "model.name)")
    return f"nothing was registered under {model.name!r} ({where}), the model capstone.yaml declares"
