"""One grading run: its state, phases (dependencies, steps, services), the rubric's evaluation with
``needs``/skips, and attempts after infrastructure failures (``orchestrate.grade_submission``)."""
