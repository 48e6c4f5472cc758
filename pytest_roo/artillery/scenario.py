"""Artillery scenario files: read, check and bound them before node starts.

Node and Artillery take seconds to start and report a broken file with a stack trace, or run
something else than intended (a misspelt ``phases`` runs one virtual user). So the file is
parsed here first (PyYAML, keeping line numbers) and every problem found is a
:class:`ScenarioError` naming the file, the line and what is accepted.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ENGINES", "Scenario", "ScenarioError", "load_scenario", "merge"]

#: The engines Artillery 2 ships (plus "playwright", which pytest-roo does not run: no browser
#: download here; browser matrices are pytest-roo's own, see docs/browser.md).
ENGINES = ("http", "ws", "websocket", "socketio")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr)?\s*$")
_UNIT = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0,
         "hr": 3600.0}


class ScenarioError(ValueError):
    """A scenario file that cannot be run: ``path``, ``line`` (1-based, or None) and why."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A checked scenario file: its data, the engines it uses and the seconds its phases last."""

    path: Path
    data: dict[str, Any]
    engines: tuple[str, ...]
    phase_seconds: float
    target: str | None


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged into ``base`` (mappings merge, everything else replaces), the
    way Artillery applies ``--overrides``."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_duration(value: Any) -> float | None:
    """Seconds of an Artillery phase ``duration``/``pause`` (10, "10s", "2m", "1.5h")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 and math.isfinite(value) else None
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return float(match.group(1)) * _UNIT[match.group(2)]
    return None


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None,
                  target: str | None = None) -> Scenario:
    """Read and check ``path``; ``overrides`` (as for Artillery's ``--overrides``) and
    ``target`` are applied before the checks. Raises ScenarioError (file and line)."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(file, None, "no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(file, None, f"cannot be read: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise ScenarioError(file, line, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, None, f"not valid YAML: {exc}") from None
    lines = _Lines(root)
    if not isinstance(data, dict):
        raise ScenarioError(file, lines.of(()), "expected a mapping with `config:` and "
                            f"`scenarios:` at the top, got {type(data).__name__}")
    unknown = sorted(set(data) - {"config", "scenarios", "before", "after"})
    if unknown:
        key = unknown[0]
        raise ScenarioError(file, lines.of((key,)), f"unknown top-level key {key!r}: "
                            "expected config, scenarios, before, after")
    if overrides:
        data = merge(data, overrides)
    config = data.get("config")
    if not isinstance(config, dict):
        raise ScenarioError(file, lines.of(("config",)),
                            "`config:` must be a mapping (target, phases, ...)")
    if target is not None:
        config = {**config, "target": target}
        data["config"] = config
    tgt = config.get("target")
    if tgt is not None and not isinstance(tgt, str):
        raise ScenarioError(file, lines.of(("config", "target")),
                            f"config.target must be a URL string, got {tgt!r}")
    if not tgt and not config.get("environments"):
        raise ScenarioError(file, lines.of(("config",)), "config.target is missing: give "
                            "target: http://127.0.0.1:PORT in the file or target= to run()")
    seconds = _phases(file, config, lines)
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, list) or not scenarios:
        raise ScenarioError(file, lines.of(("scenarios",)),
                            "`scenarios:` must be a non-empty list of {flow: [...]} entries")
    default_engine = config.get("engine", "http")
    engines: list[str] = []
    for i, scn in enumerate(scenarios):
        where = ("scenarios", i)
        if not isinstance(scn, dict):
            raise ScenarioError(file, lines.of(where), f"scenarios[{i}] must be a mapping "
                                "with a `flow:` list")
        engine = scn.get("engine", default_engine)
        if engine not in ENGINES:
            raise ScenarioError(file, lines.of((*where, "engine")), f"scenarios[{i}]: engine "
                                f"{engine!r} is not one pytest-roo runs: expected one of "
                                f"{', '.join(ENGINES)}")
        flow = scn.get("flow")
        if not isinstance(flow, list) or not flow:
            raise ScenarioError(file, lines.of((*where, "flow")) or lines.of(where),
                                f"scenarios[{i}] needs a non-empty `flow:` list of steps")
        for j, step in enumerate(flow):
            if not isinstance(step, dict) or not step:
                raise ScenarioError(file, lines.of((*where, "flow", j)),
                                    f"scenarios[{i}].flow[{j}] must be a step such as "
                                    "`- get: {url: /health}` or `- think: 1`")
        engines.append("ws" if engine == "websocket" else engine)
    return Scenario(file, data, tuple(dict.fromkeys(engines)), seconds, tgt or None)


def _phases(file: Path, config: Mapping[str, Any], lines: _Lines) -> float:
    phases = config.get("phases")
    if phases is None:
        return 0.0  # Artillery runs one arrival
    if not isinstance(phases, list) or not phases:
        raise ScenarioError(file, lines.of(("config", "phases")),
                            "config.phases must be a non-empty list such as "
                            "[{duration: 10, arrivalRate: 5}]")
    total = 0.0
    for i, phase in enumerate(phases):
        where = ("config", "phases", i)
        if not isinstance(phase, dict):
            raise ScenarioError(file, lines.of(where), f"config.phases[{i}] must be a mapping "
                                "with duration (or pause)")
        if "pause" in phase:
            seconds = parse_duration(phase["pause"])
            key = "pause"
        else:
            seconds = parse_duration(phase.get("duration"))
            key = "duration"
        if seconds is None:
            raise ScenarioError(file, lines.of((*where, key)) or lines.of(where),
                                f"config.phases[{i}].{key} is {phase.get(key)!r}: expected "
                                "seconds (10) or a duration string ('10s', '2m')")
        for rate_key in ("arrivalRate", "arrivalCount", "rampTo", "maxVusers"):
            value = phase.get(rate_key)
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float, str)) or (isinstance(value, (int, float)) and value < 0)):
                raise ScenarioError(file, lines.of((*where, rate_key)),
                                    f"config.phases[{i}].{rate_key} is {value!r}: expected a "
                                    "number >= 0")
        total += seconds
    return total


class _Lines:
    """Line numbers (1-based) of the nodes of a composed YAML document, by key path."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def of(self, path: tuple[Any, ...]) -> int | None:
        import yaml

        node = self.root
        if node is None:
            return None
        best: int = int(node.start_mark.line) + 1
        for key in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if getattr(k, "value", None) == key:
                        best = int(k.start_mark.line) + 1
                        child = v
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and \
                    key < len(node.value):
                child = node.value[key]
                best = int(child.start_mark.line) + 1
            if child is None:
                return best
            node = child
        return best
