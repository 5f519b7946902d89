import pandas as pd
import pytest

from capstone.features import FEATURES, LABEL, load_split, to_frame


def test_load_split_returns_features_in_order_and_labels(tmp_path, separable_frame):
    shuffled = separable_frame[[LABEL, *reversed(FEATURES)]]
    shuffled.to_csv(tmp_path / "train.csv", index=False)
    features, labels = load_split(tmp_path, "train")
    assert list(features.columns) == list(FEATURES)
    assert all(dtype == "float64" for dtype in features.dtypes)
    assert labels.tolist() == separable_frame[LABEL].tolist()


def test_load_split_names_the_missing_columns(tmp_path):
    pd.DataFrame({"temperature": [1.0], "fault": ["none"]}).to_csv(tmp_path / "valid.csv", index=False)
    with pytest.raises(ValueError, match="vibration"):
        load_split(tmp_path, "valid")


def test_to_frame_uses_the_training_column_names():
    frame = to_frame([[1, 2, 3, 4, 5, 6]])
    assert list(frame.columns) == list(FEATURES)
    assert frame.iloc[0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert all(dtype == "float64" for dtype in frame.dtypes)
