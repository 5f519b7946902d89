"""An example capstone-grader plug-in: the ``line-count`` check type and the labs in ``labs/``."""

from pathlib import Path

# Named by the `capstone_grader.labs` entry point: a folder whose sub-folders are labs (each with lab.yaml).
LABS = Path(__file__).resolve().parent / "labs"
