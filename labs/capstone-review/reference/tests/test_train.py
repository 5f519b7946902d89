from capstone.features import FEATURES, LABEL
from train import PARAMS, accuracy, build_pipeline


def test_pipeline_scales_then_classifies():
    pipeline = build_pipeline()
    assert [name for name, _ in pipeline.steps] == ["scale", "clf"]
    assert pipeline.named_steps["clf"].get_params()["C"] == PARAMS["C"]


def test_pipeline_learns_separable_classes(separable_frame):
    features, labels = separable_frame[list(FEATURES)], separable_frame[LABEL]
    model = build_pipeline().fit(features, labels)
    assert accuracy(model, features, labels) == 1.0


def test_accuracy_is_the_share_of_right_answers(fake_model, separable_frame):
    features = separable_frame[list(FEATURES)].head(4).assign(temperature=[90.0, 10.0, 90.0, 10.0])
    labels = separable_frame[LABEL].head(4).copy()
    labels[:] = ["overheating", "none", "none", "none"]
    assert accuracy(fake_model, features, labels) == 0.75
