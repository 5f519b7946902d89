"""Fault classifier for rotating machines: features, model file and monitoring."""
