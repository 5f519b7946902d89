"""Terminal output for the CLI: live progress per phase and check, and the closing summary table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.models import CheckResult, Report, ServiceResult, Status, StepResult
from grader.results.report.text import clean_text
from grader.run.state import RunObserver

# The command's exit codes (see the README).
EXIT_PASSED, EXIT_NOT_PASSED, EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

STATUS_STYLE = {Status.passed: "green", Status.failed: "red", Status.error: "magenta", Status.skipped: "yellow",
                Status.manual: "cyan"}


def terminal_safe(text: str) -> str:
    """Text that may name a submission's entries, for rich: no escape sequences, no markup (an entry named
    ``[/]`` would otherwise crash the error handler, and ``[link=...]`` would fake a hyperlink)."""
    return escape(clean_text(text))


class ConsoleObserver(RunObserver):
    """Prints progress to stderr so ``--json`` output on stdout stays machine-readable."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def phase_started(self, phase: str) -> None:
        self.console.print(f"[bold]▶ {phase}[/bold]")

    def phase_finished(self, phase: str, seconds: float) -> None:
        self.console.print(f"  [dim]{phase} took {seconds:.1f}s[/dim]")

    def log(self, message: str) -> None:
        self.console.print(f"  [dim]{terminal_safe(message)}[/dim]")

    def step_finished(self, result: StepResult) -> None:
        ok = result.succeeded
        why = result.failure_reason or f"exit 0 in {result.duration_s:.1f}s"
        mark = "[green]✔" if ok else "[red]✘"
        self.console.print(f"  {mark} step {terminal_safe(result.id)}[/] {terminal_safe(why)}")

    def service_started(self, result: ServiceResult) -> None:
        mark = "[green]✔" if result.ready else "[red]✘"
        self.console.print(f"  {mark} service {terminal_safe(result.id)}[/] {terminal_safe(result.message)}")

    def check_finished(self, result: CheckResult) -> None:
        style = STATUS_STYLE[result.status]
        self.console.print(
            f"  [{style}]{result.status.value:>5}[/{style}] {terminal_safe(result.id)} "
            f"[dim]{result.points:g}/{result.max_points:g}[/dim] {terminal_safe(result.message)[:120]}"
        )


def summary_table(report: Report) -> Table:
    """One row per check, then the verdict in the caption."""
    verdict = "PASSED" if report.passed else ("ERROR" if report.outcome == "error" else "NOT PASSED")
    table = Table(title=f"{report.lab['title']} — {report.score:g}/{report.max_score:g} — {verdict}")
    for column in ("section", "check", "status", "points", "message"):
        table.add_column(column)
    for check in report.checks:
        style = STATUS_STYLE[check.status]
        table.add_row(check.section, terminal_safe(check.id), f"[{style}]{check.status.value}[/{style}]",
                      f"{check.points:g}/{check.max_points:g}", terminal_safe(check.message)[:100])
    manual = sum(1 for c in report.checks if c.status == Status.manual)
    if manual:
        table.caption = f"{manual} item(s) need a reviewer (up to {report.review_points:g} points, not in this score)"
    if report.error:
        table.caption = f"run error: {terminal_safe(report.error)}"
    return table
