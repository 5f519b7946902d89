"""The workspace's pages: sign in, the cohort, pass rates, one run's report and review, and the review's
actions (each a POST that redirects back to the run's page with what happened)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from grader.models import Report
from grader.results.store import StoredRun
from grader.review import cohort, release, rules
from grader.review.desk import RunNotFound, check_reviewer
from grader.review.model import Review
from grader.review.web import access, context

pages = Blueprint("pages", __name__)
STORE_LIMIT = 100_000  # runs read for the cohort: more than any cohort holds


@pages.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """A name for the audit log (and, off loopback, the token given when the server started)."""
    settings = context.settings()
    target = _local_path(request.values.get("next", ""))
    if request.method == "GET":
        return render_template("login.html", needs_token=settings.needs_token, next=target)
    try:
        name = check_reviewer(request.form.get("name", ""))
    except rules.ReviewRefused as refused:
        return render_template("login.html", needs_token=settings.needs_token, next=target,
                               error=str(refused)), 400
    if settings.token is not None and not access.token_matches(request.form.get("token", ""), settings.token):
        return render_template("login.html", needs_token=True, next=target,
                               error="that token is not the one this workspace was started with"), 403
    session["reviewer"] = name
    return redirect(target)


@pages.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    return Response(status=204)


@pages.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("pages.login"))


@pages.get("/")
def cohort_table() -> ResponseReturnValue:
    """Every submission's latest grading (or every grading), sortable, filterable, searchable."""
    query = cohort.CohortQuery(
        lab=request.args.get("lab", ""), verdict=request.args.get("verdict", ""),
        status=request.args.get("status", ""), search=request.args.get("q", ""),
        sort=request.args.get("sort", "graded"), descending=request.args.get("order", "desc") != "asc",
        every_grading=request.args.get("all") == "1",
    )
    runs, reports = _stored()
    desk = context.desk()
    rows = cohort.cohort_rows(zip(runs, reports, strict=True), desk.reviews.reviews(r.run_id for r in runs))
    labs = sorted({run.lab_id for run in runs})
    return render_template("cohort.html", rows=cohort.select(rows, query), query=query, labs=labs,
                           verdicts=cohort.VERDICTS, statuses=cohort.REVIEW_STATUSES, total=len(rows),
                           columns=_COLUMNS)


@pages.get("/rates")
def pass_rates() -> ResponseReturnValue:
    """Per lab, how many submissions (latest gradings) passed each automatic check."""
    runs, reports = _stored()
    latest = {row.run.run_id for row in cohort.latest_per_submission(
        cohort.cohort_rows(zip(runs, reports, strict=True), {}))}
    rates = cohort.pass_rates(r for r in reports if r.run_id in latest)
    return render_template("rates.html", rates=rates)


@pages.get("/runs/<run_id>")
def run_page(run_id: str) -> ResponseReturnValue:
    report, review = _open(run_id)
    history = [run for run in context.desk().results.list(report.lab.get("id"), STORE_LIMIT)
               if report.submission and run.submission_source == report.submission.source]
    return render_template("run.html", report=report, review=review, history=history,
                           candidate=cohort.candidate_name(report.submission.source if report.submission else None),
                           totals=rules.totals(report, review), checks=rules.reviewed_checks(report, review),
                           sections=_sections(report))


@pages.get("/runs/<run_id>/review.json")
def review_json(run_id: str) -> ResponseReturnValue:
    """The review (status, totals, the whole audit log) as JSON, released or not: for reviewers."""
    return jsonify(release.review_json(*_open(run_id)))


@pages.get("/runs/<run_id>/candidate.md")
def candidate_markdown(run_id: str) -> ResponseReturnValue:
    """Exactly the report.md the candidate gets now (review included only once released)."""
    return Response(release.candidate_markdown(*_open(run_id)), mimetype="text/plain")


@pages.get("/runs/<run_id>/candidate.json")
def candidate_json(run_id: str) -> ResponseReturnValue:
    return jsonify(release.candidate_json(*_open(run_id)))


@pages.post("/runs/<run_id>/checks/<check_id>/score")
def score(run_id: str, check_id: str) -> ResponseReturnValue:
    form = request.form
    return _act(run_id, check_id, lambda desk, seen: desk.score_manual(
        run_id, check_id, form.get("points", ""), form.get("comment", ""), _reviewer(), seen))


@pages.post("/runs/<run_id>/checks/<check_id>/override")
def override(run_id: str, check_id: str) -> ResponseReturnValue:
    form = request.form
    return _act(run_id, check_id, lambda desk, seen: desk.override(
        run_id, check_id, form.get("points", ""), form.get("reason", ""), _reviewer(), seen))


@pages.post("/runs/<run_id>/release")
def release_grade(run_id: str) -> ResponseReturnValue:
    return _act(run_id, "", lambda desk, seen: desk.release(run_id, _reviewer(), seen))


_COLUMNS = (("candidate", "Candidate"), ("lab", "Lab"), ("score", "Score"), ("verdict", "Verdict"),
            ("status", "Review"), ("graded", "Graded"))


def _act(run_id: str, check_id: str, action: Any) -> ResponseReturnValue:
    """Apply a review action; on refusal keep the page and say why, next to the check it concerns."""
    _open(run_id)  # an unknown run is a 404, not a message
    seen = request.form.get("seen_entries", "")
    try:
        change = action(context.desk(), int(seen) if seen.isdigit() else None)
    except rules.ReviewRefused as refused:
        flash(str(refused), "error")
    else:
        what = {"score": "Score saved", "override": "Override saved", "release": "Grade released"}
        flash(f"{what[change.action.value]}{f' for {check_id}' if check_id else ''}.", "ok")
    anchor = f"check-{check_id}" if check_id else "review"
    return redirect(url_for("pages.run_page", run_id=run_id, _anchor=anchor), code=303)


def _open(run_id: str) -> tuple[Report, Review]:
    try:
        return context.desk().open_run(run_id)
    except RunNotFound as missing:
        abort(404, description=str(missing))


def _stored() -> tuple[list[StoredRun], list[Report]]:
    results = context.desk().results
    runs = results.list(limit=STORE_LIMIT)
    reports = [results.get(run.run_id) for run in runs]
    kept = [(run, report) for run, report in zip(runs, reports, strict=True) if report is not None]
    return [run for run, _ in kept], [report for _, report in kept]


def _reviewer() -> str:
    name = access.current_reviewer()
    if name is None:
        abort(403, description="sign in with your name first")
    return name


def _sections(report: Report) -> list[tuple[str, str]]:
    ordered = dict.fromkeys(c.section for c in report.checks)
    return [(section, report.sections.get(section, section)) for section in ordered]


def _local_path(target: str) -> str:
    """Where to go after signing in: a path on this server only (never another site)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.cohort_table")
