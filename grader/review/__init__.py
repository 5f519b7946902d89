"""The reviewers' workspace: manual points, overrides with reasons, an audit log and release of a graded run.

Reviews live in tables of their own beside the results store's ``runs`` (keyed by the graded run's id), so
the automatic result is never changed: ``model`` holds the values, ``rules`` the pure decisions (bounds,
totals, verdict), ``store`` the tables, ``desk`` the actions a reviewer takes, ``release`` what candidates
see, and ``web`` the ``grader serve`` application.
"""
