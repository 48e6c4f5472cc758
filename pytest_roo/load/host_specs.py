"""The ``--roo-load-hosts`` value: execnet gateway specs, checked without importing execnet.

Pure logic: unit-tested directly.
"""

from __future__ import annotations

import re

__all__ = ["HOST_FORMS", "parse_load_hosts"]

HOST_FORMS = ("comma-separated execnet specs: popen, popen//python=python3, "
              "ssh=user@host//python=python3 (ssh_config=FILE, chdir=DIR, nice=N, env:NAME=V "
              "may follow, each after //), optionally repeated as N*spec")

_KEYS = {"python", "chdir", "nice", "ssh_config", "id", "dont_write_bytecode", "execmodel"}
_REPEAT_RE = re.compile(r"^(\d+)\*(.+)$")


def parse_load_hosts(value: str) -> tuple[str, ...]:
    """``"2*popen,ssh=u@h//python=python3"`` -> ``("popen", "popen", "ssh=u@h//python=python3")``.

    ValueError names the bad spec and the accepted forms.
    """
    out: list[str] = []
    for raw in value.split(","):
        shown = _masked(raw.strip())  # for messages only
        spec = raw.strip()
        if not spec:
            continue
        count = 1
        repeat = _REPEAT_RE.match(spec)
        if repeat:
            count = int(repeat.group(1))
            spec = repeat.group(2).strip()
            if not 1 <= count <= 256:
                raise ValueError(f"invalid load host {shown!r}: the repeat count must be "
                                 f"1 .. 256; expected {HOST_FORMS}")
        _check_spec(spec, shown)
        out.extend([spec] * count)
    if not out:
        raise ValueError(f"invalid load hosts {_masked(value)!r}: expected {HOST_FORMS}")
    return tuple(out)


_PASSWORD_RE = re.compile(r":[^@/,\s]*@")


def _masked(text: str) -> str:
    """A password typed into ``ssh=user:password@host`` (or a ``password=`` pair) is never
    echoed."""
    from pytest_roo.redact import mask_secrets

    return mask_secrets(_PASSWORD_RE.sub(":***@", text))


def _check_spec(spec: str, shown: str) -> None:
    parts = spec.split("//")
    head = parts[0]
    if head != "popen" and not (head.startswith("ssh=") and len(head) > 4):
        raise ValueError(f"invalid load host {shown!r}: a gateway is popen or ssh=[user@]host; "
                         f"expected {HOST_FORMS}")
    if head.startswith("ssh="):
        target = head[4:]
        if any(c.isspace() for c in target.strip()) or target.startswith("-"):
            raise ValueError(f"invalid load host {shown!r}: ssh= takes one [user@]host (give "
                             f"ports and keys in an ssh_config= file); expected {HOST_FORMS}")
        if "@" in target and ":" in target.split("@")[0]:
            raise ValueError(f"invalid load host {shown!r}: no password in a host spec (use "
                             f"an ssh key); expected {HOST_FORMS}")
    for item in parts[1:]:
        key, sep, _ = item.partition("=")
        if key.startswith("env:") and sep:
            continue
        if key not in _KEYS or not sep:
            raise ValueError(f"invalid load host {shown!r}: unknown item {_masked(item)!r}; expected "
                             f"{HOST_FORMS}")
