from fastapi.testclient import TestClient

from app import create_app


def test_predict_answers_with_the_models_label(fake_model, reading):
    with TestClient(create_app(loader=lambda: fake_model)) as client:
        assert client.post("/predict", json={"features": reading}).json() == {"prediction": "none"}
        assert client.post("/predict", json={"features": [1.0]}).status_code == 422
