import pytest
from fastapi.testclient import TestClient

from app import create_app
from capstone.features import FEATURES


@pytest.fixture
def client(fake_model):
    with TestClient(create_app(loader=lambda: fake_model)) as test_client:
        yield test_client


def test_predict_answers_with_the_models_label(client, fake_model, reading):
    response = client.post("/predict", json={"features": reading})
    assert response.status_code == 200
    assert response.json() == {"prediction": "none"}
    hot = client.post("/predict", json={"features": [95.0, *reading[1:]]})
    assert hot.json() == {"prediction": "overheating"}
    assert list(fake_model.frames[0].columns) == list(FEATURES)


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_startup_fails_when_the_model_cannot_be_loaded():
    def broken_loader():
        raise RuntimeError("registry unreachable")

    with pytest.raises(RuntimeError, match="registry unreachable"), TestClient(create_app(loader=broken_loader)):
        pass
