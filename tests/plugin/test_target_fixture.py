"""The ``target`` fixture: --roo-target, the pytest_roo_start_target hook, skips, log sections,
stopping, xdist."""

from __future__ import annotations

import os
import textwrap

import pytest

SERVER = textwrap.dedent('''
    import http.server, pathlib, sys
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *args):
            print("served", self.path, flush=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print("listening", server.server_port, flush=True)
    pathlib.Path(sys.argv[1]).write_text(str(server.server_port))
    server.serve_forever()
''')

HOOK = textwrap.dedent('''
    import subprocess, sys, time
    from pathlib import Path
    from pytest_roo.target import Target, wait_healthy

    def pytest_roo_start_target(config, settings, output_dir):
        port_file = output_dir / "port"
        log = output_dir / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-u", "-c", SERVER, str(port_file)],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        waited = wait_healthy(base + "/health", timeout=20)
        (output_dir / "pid").write_text(str(proc.pid))
        return Target(base_url=base, pids=(proc.pid,), log_path=log, startup_seconds=waited,
                      info={"kind": "tiny"})
''')


def write_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"SERVER = {SERVER!r}\n" + HOOK)


def test_without_url_or_hook_the_target_skips_saying_how(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(target):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:playwright", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--roo-target URL*pytest_roo_start_target*"])


def test_roo_target_url_is_external_and_derives_ws(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent('''
        from pytest_roo.target import Target

        # staging.example.com is not reachable from a test: pretend it answers 404
        Target.probe = lambda self, path="/health", timeout=2.0: (404, None, "")

        def test_it(target):
            assert target.external and target.pids == ()
            assert target.base_url == "https://staging.example.com/app"
            assert target.url("/health") == "https://staging.example.com/app/health"
            assert target.ws_url("/ws/echo") == "wss://staging.example.com/app/ws/echo"
            assert target.info["postgres_url"] is None
    '''))
    # the hook must not be asked when a URL is given
    pytester.makeconftest("def pytest_roo_start_target(config, settings, output_dir):\n"
                          "    raise AssertionError('not to be called')\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:playwright", "--roo-target", "https://staging.example.com/app/")
    result.assert_outcomes(passed=1)


def test_unreachable_external_target_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(target):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--roo-target",
                                           "http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--roo-target http://127.0.0.1:9 does not answer*"])


def test_env_target_and_bad_url(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
                                ) -> None:
    pytester.makepyfile("def test_it(roo_settings):\n    assert roo_settings.target == "
                        "'http://127.0.0.1:1'\n")
    monkeypatch.setenv("ROO_TARGET", "http://127.0.0.1:1")
    pytester.runpytest_subprocess("-p", "no:playwright").assert_outcomes(passed=1)
    monkeypatch.delenv("ROO_TARGET")
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--roo-target", "localhost:80")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--roo-target*'localhost:80'*http://*"])


def test_hook_starts_the_target_once_and_stops_it(pytester: pytest.Pytester) -> None:
    write_conftest(pytester)
    pytester.makepyfile(textwrap.dedent('''
        import os, urllib.request
        SEEN = []
        def test_one(target):
            assert not target.external and len(target.pids) == 1
            assert urllib.request.urlopen(target.url("/hello"), timeout=5).status == 200
            assert target.ws_url("/x").startswith("ws://127.0.0.1:")
            assert target.info == {"kind": "tiny"}
            SEEN.append(target.pids[0])
        def test_two(target):
            assert SEEN == [target.pids[0]]   # one target for the session
            os.kill(target.pids[0], 0)
    '''))
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--roo-output", "out",
                                           "--roo-report-json", "report.json")
    result.assert_outcomes(passed=2)
    out = pytester.path / "out" / "target" / "main"
    assert "served /hello" in (out / "server.log").read_text()
    pid = int((out / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    import json

    report = json.loads((pytester.path / "report.json").read_text())
    assert report["sections"]["target"]["pids"] == [pid]
    assert report["sections"]["target"]["external"] is False


def test_failing_test_gets_the_target_log_tail(pytester: pytest.Pytester) -> None:
    write_conftest(pytester)
    pytester.makepyfile(textwrap.dedent('''
        import urllib.request
        def test_fails(target):
            urllib.request.urlopen(target.url("/marker-path"), timeout=5).read()
            assert False, "boom"
        def test_passes(target):
            pass
    '''))
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--roo-output", "out")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*roo target log: *server.log (last 40 lines)*",
                                 "*served /marker-path*"])
    assert result.stdout.str().count("roo target log") == 1


def test_hook_returning_something_else_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_roo_start_target(config, settings, output_dir):\n"
                          "    return 'http://127.0.0.1:1'\n")
    pytester.makepyfile("def test_it(target):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:playwright")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pytest_roo_start_target returned str*Target*"])


def test_each_xdist_worker_starts_its_own_target(pytester: pytest.Pytester) -> None:
    write_conftest(pytester)
    pytester.makepyfile(textwrap.dedent('''
        import pytest
        @pytest.mark.parametrize("i", range(4))
        def test_it(target, i):
            assert target.pids
    '''))
    result = pytester.runpytest_subprocess("-p", "no:playwright", "-n", "2", "--roo-output",
                                           "out")
    result.assert_outcomes(passed=4)
    workers = sorted(p.name for p in (pytester.path / "out" / "target").iterdir())
    assert workers == ["gw0", "gw1"]
    pids = {int((pytester.path / "out" / "target" / w / "pid").read_text()) for w in workers}
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


