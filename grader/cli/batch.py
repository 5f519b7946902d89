"""``grader batch``, ``grader regrade`` and ``grader export``: grade a cohort, grade again, write its grades."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from grader.cli.console import EXIT_INTERRUPTED, terminal_safe
from grader.cli.engine import add_engine_options
from grader.cli.worker import add_broker_option, add_store_option, open_queue, report_lookup
from grader.paths import ProjectPaths

if TYPE_CHECKING:
    from grader.cohort.queue import Batch, Job, JobQueue

EXIT_ALL_GRADED, EXIT_SOME_ERRORS = 0, 1
EXPORT_FORMATS = ("csv", "gradescope", "junit", "html")


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this group's commands to the ``grader`` parser."""
    batch = commands.add_parser(
        "batch", help="grade many submissions against one lab (resumable: the same command finishes the rest)",
        description="Grade a cohort. Exit code 0 when every submission was graded, 1 when some ended in an error "
        "(listed; `grader regrade BATCH --errored` tries them again), 2 for bad input, 130 when interrupted. Run "
        "the same command again after a crash or an interrupt: it grades only what has no report yet.")
    batch.add_argument("lab", help="lab id (see `grader lab list`) or a lab folder")
    batch.add_argument("submissions", nargs="*", help="a folder with one subfolder or archive per candidate, or "
                       "several submission paths or git URLs")
    batch.add_argument("--roster", type=Path, help="CSV with candidate and repository columns and an optional ref "
                       "(GitHub Classroom's export columns work as they are)")
    batch.add_argument("--deadline", help="grade each git repository's last commit at or before this ISO 8601 "
                       "moment (e.g. 2026-05-01T23:59+02:00; without an offset, UTC)")
    batch.add_argument("--workers", type=int, help="submissions graded at once (default: from the cores, memory "
                       "and the lab's sandbox limits)")
    batch.add_argument("--batch", dest="batch_id", help="name of the batch (default: derived from the lab, the "
                       "inputs and the deadline, so the same command resumes the same batch)")
    batch.add_argument("--out", type=Path, help="folder for the reports (default: grader-reports/batches/BATCH)")
    add_broker_option(batch)
    add_store_option(batch)
    add_engine_options(batch)

    regrade = commands.add_parser("regrade", help="grade a batch's submissions again (earlier reports are kept)")
    regrade.add_argument("batch_id", metavar="BATCH", help="batch name (printed by `grader batch`)")
    which = regrade.add_mutually_exclusive_group()
    which.add_argument("--errored", action="store_true", help="only the jobs that ended in an error")
    which.add_argument("--candidate", help="only this candidate")
    which.add_argument("--lab-version", help="the jobs graded with another lab version than V (the lab on disk "
                       "must be version V)")
    regrade.add_argument("--workers", type=int, help="submissions graded at once (default: as for batch)")
    add_broker_option(regrade)
    add_store_option(regrade)
    add_engine_options(regrade)

    export = commands.add_parser("export", help="write a batch's grades: CSV gradebook, Gradescope, JUnit, HTML")
    export.add_argument("batch_id", metavar="BATCH", help="batch name (printed by `grader batch`)")
    export.add_argument("--format", default="csv,gradescope,junit,html",
                        help=f"comma-separated, from {', '.join(EXPORT_FORMATS)} (default: all)")
    export.add_argument("--out", type=Path, help="folder to write into (default: the batch's report folder)")
    add_store_option(export)


def cmd_batch(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.cohort.batch import batch_id_for, default_out_dir
    from grader.cohort.deadline import parse_deadline
    from grader.cohort.inputs import read_folder, read_paths, read_roster
    from grader.errors import BadInputError
    from grader.labs.loading import load_lab

    _check_workers(args)
    lab = load_lab(args.lab, paths)
    if args.deadline:
        parse_deadline(args.deadline)
    if args.roster and args.submissions:
        raise BadInputError("give either --roster or submission paths, not both")
    if args.roster:
        inputs, where = read_roster(args.roster), [str(args.roster.resolve())]
    elif len(args.submissions) == 1 and _is_submissions_folder(Path(args.submissions[0])):
        inputs, where = read_folder(Path(args.submissions[0])), [str(Path(args.submissions[0]).resolve())]
    elif args.submissions:
        inputs = read_paths(args.submissions)
        where = [item.source for item in inputs]
    else:
        raise BadInputError("nothing to grade: give a submissions folder, paths, or --roster roster.csv")
    batch_id = args.batch_id or batch_id_for(lab.lab.id, where, args.deadline)
    queue = open_queue(args, paths)
    try:
        existing = queue.batch(batch_id)
        if existing is not None and existing.lab != args.lab:
            raise BadInputError(f"batch {batch_id} grades lab {existing.lab!r}, not {args.lab!r}")
        out = args.out or (Path(existing.settings["out"]) if existing else default_out_dir(batch_id))
        settings = {"out": str(out.resolve()), "deadline": args.deadline or ""}
        batch = queue.create_batch(batch_id, args.lab, settings)
        for note in queue.enqueue(batch_id, inputs):
            err.print(f"note: {terminal_safe(note)}")
        err.print(f"batch [bold]{terminal_safe(batch_id)}[/bold]: {len(inputs)} candidate(s), lab {lab.lab.id} "
                  f"{lab.lab.version}; reports in {terminal_safe(batch.settings['out'])}")
        return _grade(queue, batch_id, paths, args, err)
    finally:
        queue.close()


def _is_submissions_folder(path: Path) -> bool:
    """A folder of submissions, as opposed to one submission: not a repository, no manifest, no files at top."""
    if not path.is_dir() or (path / ".git").exists() or (path / "capstone.yaml").exists():
        return False
    entries = [entry for entry in path.iterdir() if not entry.name.startswith(".")]
    return all(entry.is_dir() or entry.name.lower().endswith((".zip", ".tar.gz", ".tgz", ".tar")) for entry in entries)


def cmd_regrade(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.cohort.batch import select_for_regrade
    from grader.errors import BadInputError
    from grader.labs.loading import load_lab

    _check_workers(args)
    queue = open_queue(args, paths)
    try:
        batch = _existing_batch(queue, args.batch_id)
        if args.lab_version is not None:
            version = load_lab(batch.lab, paths).lab.version
            if version != args.lab_version:
                raise BadInputError(f"lab {batch.lab} on disk is version {version}, not {args.lab_version}: "
                                    "regrading would not use the lab version you asked for")
        with report_lookup(queue, paths) as store:
            candidates = select_for_regrade(queue, store, batch.batch_id, errored=args.errored,
                                            candidate=args.candidate, lab_version=args.lab_version)
        count = queue.requeue(batch.batch_id, candidates)
        err.print(f"batch {terminal_safe(batch.batch_id)}: {count} job(s) queued to be graded again "
                  "(earlier reports are kept in the history)")
        return _grade(queue, batch.batch_id, paths, args, err)
    finally:
        queue.close()


def cmd_export(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.cohort.collect import cohort_entries
    from grader.errors import BadInputError
    from grader.results.export import export

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise BadInputError(f"unknown export format {', '.join(unknown) or '(none)'}: choose from "
                            f"{', '.join(EXPORT_FORMATS)}")
    queue = open_queue(args, paths)
    try:
        batch = _existing_batch(queue, args.batch_id)
        with report_lookup(queue, paths) as store:
            entries = cohort_entries(queue, store, batch.batch_id)
    finally:
        queue.close()
    out = args.out or Path(batch.settings["out"])
    for fmt in formats:
        files = export(entries, fmt, out)
        shown = files[0] if len(files) == 1 else f"{len(files)} files under {out / fmt}"
        Console().print(f"{fmt}: {terminal_safe(str(shown))}", markup=False, highlight=False)
    pending = sum(1 for entry in entries if entry.state in ("queued", "running"))
    if pending:
        err.print(f"note: {pending} job(s) are not graded yet; run the batch command again to finish them")
    return 0


def _check_workers(args: argparse.Namespace) -> None:
    from grader.errors import BadInputError

    if args.workers is not None and args.workers < 1:
        raise BadInputError(f"--workers must be at least 1, not {args.workers}")


def _existing_batch(queue: JobQueue, batch_id: str) -> Batch:
    from grader.errors import BadInputError

    batch = queue.batch(batch_id)
    if batch is None:
        known = ", ".join(b.batch_id for b in queue.batches()[:10]) or "none yet"
        raise BadInputError(f"no batch named {batch_id!r} in {queue.path} (batches: {known})")
    return batch


def _grade(queue: JobQueue, batch_id: str, paths: ProjectPaths, args: argparse.Namespace, err: Console) -> int:
    from grader.cohort.batch import grade_batch
    from grader.cohort.capacity import default_workers
    from grader.cohort.progress import BatchProgress, LiveProgress, PlainProgress
    from grader.cohort.runner import BatchRun
    from grader.labs.loading import load_lab
    from grader.sandbox import make_engine

    batch = _existing_batch(queue, batch_id)
    if getattr(args, "broker", None):
        from grader.cli.worker import grade_on_workers

        final_jobs = grade_on_workers(queue, batch_id, args, err)
        return EXIT_INTERRUPTED if final_jobs is None else _summarise(final_jobs, batch_id, err)
    lab = load_lab(batch.lab, paths)
    workers = args.workers or default_workers(lab)
    run = BatchRun(batch_id=batch_id, lab=batch.lab, out_dir=Path(batch.settings["out"]), paths=paths,
                   make_engine=lambda: make_engine(args.backend, paths, runtime=args.runtime),
                   deadline=batch.settings.get("deadline") or None)
    jobs = queue.jobs(batch_id)
    done = sum(1 for job in jobs if job.state in ("graded", "error"))
    errors = sum(1 for job in jobs if job.state == "error")
    err.print(f"{done} of {len(jobs)} already finished; grading the rest on {workers} worker(s)")
    progress: BatchProgress = (LiveProgress(len(jobs), done, workers, err, errors=errors) if err.is_terminal
                               else PlainProgress(len(jobs), done, workers, sys.stderr, errors=errors))
    stop = threading.Event()
    try:
        final = grade_batch(queue, run, workers, progress, stop)
    except KeyboardInterrupt:
        stop.set()
        progress.close()
        err.print("[yellow]interrupted[/yellow]: no new gradings start; the running ones were left to the next run "
                  "(run the same command again to finish the batch)")
        return EXIT_INTERRUPTED
    progress.close()
    return _summarise(final, batch_id, err)


def _summarise(jobs: list[Job], batch_id: str, err: Console) -> int:
    errors = [job for job in jobs if job.state == "error"]
    graded = sum(1 for job in jobs if job.state == "graded")
    err.print(f"batch {terminal_safe(batch_id)}: {graded} graded, {len(errors)} error(s) of {len(jobs)}")
    for job in errors:
        err.print(f"  [red]error[/red] {terminal_safe(job.candidate)}: {terminal_safe(job.error or '')[:300]}")
    if errors:
        err.print(f"errored jobs: fix the input and run the batch again, or `grader regrade {batch_id} --errored`")
    unfinished = len(jobs) - graded - len(errors)
    if unfinished:
        err.print(f"{unfinished} job(s) not finished: run the same command again to finish them")
    err.print(f"grades: `grader export {batch_id}`")
    return EXIT_SOME_ERRORS if errors or unfinished else EXIT_ALL_GRADED


COMMANDS = {"batch": cmd_batch, "regrade": cmd_regrade, "export": cmd_export}
