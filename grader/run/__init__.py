"""One grading run (``orchestrate.grade_submission``): its state, owned by the run (``state``); its phases
(dependencies, ``steps``, ``services``, helper threads in ``background``); the rubric's evaluation with
``needs``/skips; attempts after infrastructure failures; and the report, assembled once at the end (``assemble``)."""
