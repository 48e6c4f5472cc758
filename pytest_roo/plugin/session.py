"""The session report: every test's recorded results (also from xdist workers), the terminal
table, the GitHub step summary and the JSON file; written also after Ctrl-C and SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import pytest

from pytest_roo.plugin.options import get_settings
from pytest_roo.report.store import PROPERTY, get_store, short_message

__all__ = ["SessionReport"]


class SessionReport:
    """Collects every test's recorded results and renders the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.store = get_store(config)
        self.interrupted = ""
        self._previous_sigterm: Any = None

    # --- SIGTERM (CI cancel, docker stop) is handled like Ctrl-C --------------------------------

    def install_sigterm(self) -> None:
        """Make SIGTERM stop the session as Ctrl-C does, unless something else handles it
        already."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # somebody else handles it (xdist, the user)

        def on_sigterm(signum: int, frame: Any) -> None:
            # exactly what Ctrl-C does (a load run stops and keeps what it measured, pytest
            # writes its reports); a second SIGTERM ends the process the default way
            self.interrupted = "terminated (SIGTERM)"
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if callable(signal.getsignal(signal.SIGINT)):
                signal.raise_signal(signal.SIGINT)
            else:  # SIGINT ignored (a background job of a non-interactive shell)
                raise KeyboardInterrupt("SIGTERM")

        self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Give SIGTERM its previous handler back."""
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Remember that the session was interrupted, for the report."""
        self.interrupted = self.interrupted or "interrupted (Ctrl-C)"

    # --- collecting ------------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect each test's results, verdicts and outcome into the session store."""
        # On the controller this sees xdist workers' reports too.
        payload = getattr(report, PROPERTY, None)
        if payload:
            self.store.add_payload(report.nodeid, str(payload))
        self.store.set_outcome(
            report.nodeid, report.when, report.outcome, report.duration, short_message(report)
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the table of every criterion judged in the session."""
        from pytest_roo.report.terminal import render_summary

        text = render_summary(self.store)
        if text:
            terminalreporter.write_sep("=", "pytest-roo: service levels")
            terminalreporter.write_line(text)

    # --- writing ---------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the session's reports (GitHub step summary, JSON, HTML); only on the controller
        under xdist."""
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: its results reach the controller inside the test reports
        exit_status = int(session.exitstatus)
        if self.interrupted and exit_status == 0:
            exit_status = int(pytest.ExitCode.INTERRUPTED)
        if self.interrupted:
            self.store.add_section("interrupted", self.interrupted)
        settings = get_settings(self.config)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        problems: list[str] = []
        if summary_path:
            from pytest_roo.report.markdown import render_markdown

            text = render_markdown(self.store)
            if text:
                try:
                    with open(summary_path, "a", encoding="utf-8") as summary:
                        summary.write(text)
                except OSError as exc:
                    problems.append(f"GITHUB_STEP_SUMMARY {summary_path}: {exc}")
        if settings.report_json is not None:
            try:
                self.store.write_json(
                    settings.report_json, settings=settings.public(), exit_status=exit_status
                )
            except OSError as exc:
                problems.append(f"--roo-report-json {settings.report_json}: {exc}")
        if settings.report_html is not None:
            from pytest_roo.report.html import write_html

            try:
                write_html(settings.report_html, self.store.to_dict(
                    settings=settings.public(), exit_status=exit_status))
            except OSError as exc:
                problems.append(f"--roo-report-html {settings.report_html}: {exc}")
        if problems:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            for problem in problems:
                if reporter is not None:
                    reporter.write_line(f"pytest-roo: could not write {problem}", red=True)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
