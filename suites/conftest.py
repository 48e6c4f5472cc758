"""The ready suites' conftest: the embedded target (each suite's sizes are in its sizes.py).

Without ``--roo-target`` the hook below starts the reference system (fixtures/refapp) on
throwaway PostgreSQL and Redis (``--roo-services`` picks the backend) and hands it to the
plugin's generic ``target`` fixture, which keeps its log in ``<--roo-output>/target/`` and
stops it at the end of the session. ``REFAPP_FAULTS`` in the environment is passed to it (the
fault tests in tests/suites/ use that to prove each suite notices a broken system).
Under pytest-xdist every worker starts its own reference system and services.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_roo.settings import Settings
    from pytest_roo.target import Target


def pytest_roo_start_target(config: pytest.Config, settings: Settings,
                            output_dir: Path) -> Target | None:
    """Start the reference system on throwaway services (see suites/embedded.py)."""
    from pytest_roo.services.models import ServiceUnavailable
    from suites.embedded import start_embedded

    try:
        return start_embedded(settings, output_dir)
    except ServiceUnavailable as exc:
        pytest.skip(f"pytest-roo suites: cannot start the embedded reference system: {exc}")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Run the server suites before the browser suites (suites/e2e).

    The browsers stay open for the rest of the session once launched; on a 2-core machine the
    load measurements are cleaner before that.
    """
    browser = [item for item in items if "e2e" in Path(str(item.path)).parts]
    if browser:
        rest = [item for item in items if "e2e" not in Path(str(item.path)).parts]
        items[:] = rest + browser


@pytest.fixture(scope="session", autouse=True)
def host_load(pytestconfig: pytest.Config) -> Iterator[None]:
    """Put the machine's load average (start and end of the session) into the JSON report:
    on a shared machine, other processes' load explains latency stalls."""
    import os

    from pytest_roo.report.store import get_store

    start = os.getloadavg()
    cpus = os.cpu_count()
    yield
    get_store(pytestconfig).add_section("host", {
        "cpus": cpus, "loadavg_start": [round(x, 2) for x in start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    })


@pytest.fixture(scope="session")
def app_db_url(target: Target) -> str:
    """The target's PostgreSQL database: the embedded one, or ``--roo-postgres-url`` for an
    external target (the database the deployment uses, reachable from here)."""
    url: Any = target.info.get("postgres_url")
    if not url:
        pytest.skip(
            "the database suite needs the target's PostgreSQL database: pass "
            "--roo-postgres-url postgresql://user:password@host:port/dbname (or env "
            "ROO_POSTGRES_URL) together with --roo-target"
        )
    return str(url)
