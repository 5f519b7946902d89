"""Deployment artefacts of a submission, read on the host as plain text: the Dockerfile (lint rules, and
the grader's copy with its base images mapped to local ones) and the Kubernetes manifests (offline
schema validation and workload rules). Nothing here runs candidate code."""
