"""Intake: a submission (directory, git repository, archive) becomes a private, digested workspace.

Nothing of the submission runs here: files are copied (``submission``) or unpacked under limits (``archive``).
"""
