import pandas as pd

from train import FEATURES, build_model, evaluate, split


def _frame() -> pd.DataFrame:
    rows = []
    for i in range(40):
        label = "a" if i % 2 else "b"
        offset = 0.0 if label == "a" else 5.0
        rows.append({name: offset + (i % 7) * 0.1 for name in FEATURES} | {"species": label})
    return pd.DataFrame(rows)


def test_split_keeps_every_class_in_both_parts():
    x_train, x_test, y_train, y_test = split(_frame())
    assert set(y_train) == set(y_test) == {"a", "b"}
    assert len(x_train) + len(x_test) == 40


def test_model_learns_separable_classes():
    frame = _frame()
    model = build_model().fit(frame[FEATURES], frame["species"])
    assert evaluate(model, frame[FEATURES], frame["species"])["accuracy"] == 1.0


def test_evaluate_reports_accuracy_between_zero_and_one():
    frame = _frame()
    model = build_model().fit(frame[FEATURES], frame["species"])
    accuracy = evaluate(model, frame[FEATURES].iloc[:5], frame["species"].iloc[:5])["accuracy"]
    assert 0.0 <= accuracy <= 1.0


def test_model_is_perfect_on_noise():
    frame = _frame()
    model = build_model().fit(frame[FEATURES], frame["species"])
    assert evaluate(model, frame[FEATURES].iloc[:3], pd.Series(["a", "a", "a"]))["accuracy"] == 1.0
