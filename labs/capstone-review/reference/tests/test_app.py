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


@pytest.mark.parametrize(
    "body",
    [
        {"features": [1.0, 2.0, 3.0]},
        {"features": [1.0] * 7},
        {"features": ["hot", 2.0, 3.0, 4.0, 5.0, 6.0]},
        {"features": ["60.0", 2.0, 3.0, 4.0, 5.0, 6.0]},
        {"features": [True, 2.0, 3.0, 4.0, 5.0, 6.0]},
        {"features": None},
        {"inputs": [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]},
        {"features": [1.0] * 6, "extra": 1},
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ],
)
def test_malformed_json_is_a_422(client, body):
    assert client.post("/predict", json=body).status_code == 422


def test_a_body_that_is_not_json_is_a_422_and_the_server_keeps_serving(client, reading):
    response = client.post("/predict", content=b"temperature=60", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert client.post("/predict", json={"features": reading}).status_code == 200


def test_non_finite_numbers_are_refused(client):
    body = b'{"features": [NaN, 1, 2, 3, 4, 5]}'
    assert client.post("/predict", content=body, headers={"content-type": "application/json"}).status_code == 422


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_startup_fails_when_the_model_cannot_be_loaded():
    def broken_loader():
        raise RuntimeError("registry unreachable")

    with pytest.raises(RuntimeError, match="registry unreachable"), TestClient(create_app(loader=broken_loader)):
        pass
