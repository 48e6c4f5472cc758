"""The ready suites of pytest-roo: one folder per concern, one criterion per test.

Each suite declares its own sizes per profile (``--roo-profile smoke|standard|full``) in its
``sizes.py``, with :class:`pytest_roo.profiles.SuiteProfiles`. A profile changes how long a run
lasts and how much headroom it adds; it never takes a size below the figure the criterion itself
names (100 database connections stay 100 in ``smoke``): those figures are the suites' floors.
Rates are open-model arrival rates this 2-core reference box serves with the generator, the
app, PostgreSQL and Redis on the same cores: a criterion measures the system, not a generator
that ran out of CPU (a saturated generator fails its criteria, see docs/load.md). The open
model's worker pool costs the generator CPU in proportion to rate x clients, so the runs with
100-200 clients keep their rates at a few hundred per second.
"""
