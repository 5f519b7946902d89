"""Cohort gradings on many machines: Celery workers fed through a Redis broker, the job store in a SQL database."""
