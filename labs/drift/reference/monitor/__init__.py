"""Fault classifier with drift monitoring: data contract, training, and the drift detector."""
