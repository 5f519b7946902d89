"""Fault classifier service: training at image build time, serving at run time."""

FEATURES = ("temperature", "vibration", "pressure", "humidity", "rpm", "voltage")
LABEL = "fault"
