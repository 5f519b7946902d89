"""Fault classifier for rotating machines: features, registry helpers and monitoring."""
