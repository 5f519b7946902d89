import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    return samples


@pytest.fixture
def client(fake_model):
    with TestClient(create_app(loader=lambda: fake_model)) as test_client:
        yield test_client


def test_every_prediction_request_is_counted_once_and_timed(client, reading):
    before = scrape(client)
    for _ in range(5):
        assert client.post("/predict", json={"features": reading}).status_code == 200
    assert client.post("/predict", json={"features": [1.0]}).status_code == 422
    after = scrape(client)
    assert after["prediction_requests_total"] - before.get("prediction_requests_total", 0.0) == 6
    assert after["prediction_latency_seconds_count"] - before["prediction_latency_seconds_count"] == 6


def test_other_endpoints_are_not_counted(client):
    client.get("/health")
    client.get("/metrics")
    assert scrape(client).get("prediction_requests_total", 0.0) == 0


def test_metric_names_follow_the_conventions(client):
    families = {family.name: family.type for family in text_string_to_metric_families(client.get("/metrics").text)}
    assert families == {"prediction_requests": "counter", "prediction_latency_seconds": "histogram"}
