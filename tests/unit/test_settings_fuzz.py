"""Any text for any setting, from any source, either resolves or is a SettingsError naming the
source and the value (masked for secrets); never another exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_roo.settings import OPTIONS, OptionSpec, Settings, SettingsError, resolve

SOURCES = ("cli", "env", "ini")

texts = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", " ", "0", "100%", "1e400", "-1", "nan", "inf", "http://", "redis://:pw@",
                     "postgresql://u:pw@127.0.0.1:99999/db", "/dev/null/x", "a,b,,", "=", "%"]),
)


def resolve_one(spec: OptionSpec, source: str, raw: str) -> Settings:
    def lookup(candidate: OptionSpec) -> list[tuple[str, str, Any]]:
        if candidate is not spec:
            return []
        label = {"cli": spec.cli, "env": spec.env, "ini": spec.ini}[source]
        return [(source, label, raw)]

    return resolve(lookup)


@pytest.mark.parametrize("spec", OPTIONS, ids=[spec.name for spec in OPTIONS])
@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(raw=texts, source=st.sampled_from(SOURCES))
def test_every_value_resolves_or_is_a_clear_error(spec: OptionSpec, raw: str, source: str) -> None:
    try:
        resolved = resolve_one(spec, source, raw)
    except SettingsError as exc:
        message = str(exc)
        label = {"cli": spec.cli, "env": spec.env, "ini": spec.ini}[source]
        assert message.startswith(f"pytest-roo: {label}=") or message.startswith("pytest-roo: --roo-")
        if spec.secret and "pw@" in raw:
            assert ":pw@" not in message
        return
    value = getattr(resolved, spec.name)
    if source != "cli" and raw == "":
        assert resolved.sources[spec.name] == "default"
    else:
        assert resolved.sources[spec.name] == source
        assert value is not None or spec.default is None
