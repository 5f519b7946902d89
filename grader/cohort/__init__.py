"""Cohorts: grade many submissions against one lab from a durable job queue, resume after a crash, regrade,
and hand the newest reports to the exporters (``grader.results.export``)."""
