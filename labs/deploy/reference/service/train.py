"""Train the classifier on a CSV file and save it: ``python -m service.train DATA.csv MODEL.joblib``."""

from __future__ import annotations

import sys

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from service import FEATURES, LABEL


def main(data: str, out: str) -> None:
    frame = pd.read_csv(data)
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    model.fit(frame[list(FEATURES)], frame[LABEL].astype(str))
    joblib.dump(model, out)
    print(f"trained on {len(frame)} rows: training accuracy {model.score(frame[list(FEATURES)], frame[LABEL]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
