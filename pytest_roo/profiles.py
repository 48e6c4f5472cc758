"""Sizes a suite declares for itself, one set per profile (``--roo-profile NAME``).

A suite keeps its sizes (clients, rates, durations) in a frozen dataclass of its own and
declares one instance per profile name; a user registers more profiles, or overrides one, by
name (the model is Hypothesis's ``settings.register_profile``)::

    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class EchoSizes:
    ...     clients: int
    ...     duration: float
    >>> ECHO = SuiteProfiles(
    ...     "echo",
    ...     floors={"clients": 50},       # the criterion says "50+ clients": never fewer
    ...     smoke=EchoSizes(clients=50, duration=3),
    ...     standard=EchoSizes(clients=200, duration=10),
    ... )
    >>> ECHO.get("smoke").duration
    3
    >>> ECHO.register("nightly", parent="standard", duration=600).clients
    200
    >>> ECHO.get("full")
    Traceback (most recent call last):
    ...
    pytest_roo.profiles.ProfileError: suite echo has no profile 'full': it knows smoke, standard, nightly

A floor is the criterion's own figure: a profile changes how long a run lasts and how much
headroom it adds, never a size below what the criterion names. Every profile is checked
against the floors when it is registered, so a wrong figure fails at import, naming the suite,
the profile, the size and the floor.

An unknown profile is an error, not a fall-back: ``--roo-profile nightly`` on a suite that has
no ``nightly`` fails its tests naming the suite, the profile and the profiles it knows (a
silent fall-back would run sizes nobody asked for under a name that says otherwise).

In a test, the ``roo_sizes`` fixture (:mod:`pytest_roo.fixtures.profiles`) picks the sizes of
the profile chosen for the session: ``sizes = roo_sizes(ECHO)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pytest_roo.setting_parsers import parse_profile

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["ProfileError", "SelectedProfile", "SuiteProfiles"]

#: A suite's sizes: an instance of a (frozen) dataclass.
S = TypeVar("S", bound="DataclassInstance")


class ProfileError(ValueError):
    """A profile that is unknown to a suite, or whose sizes break the suite's rules."""


class SuiteProfiles(Generic[S]):
    """The sizes of one suite per profile name, with the floors no profile may go below.

    Args:
        suite: the suite's name, used in every error message (e.g. ``"db"``).
        floors: the criteria's own figures: ``{"connections": 100}`` refuses any profile with
            fewer than 100 connections. Each key must be a field of the sizes dataclass.
        **profiles: the profiles, by name: instances of one frozen dataclass.
    """

    def __init__(self, suite: str, *, floors: Mapping[str, float] | None = None,
                 **profiles: S) -> None:
        if not suite.strip():
            raise ProfileError("a suite's profiles need the suite's name, got an empty string")
        if not profiles:
            raise ProfileError(f"suite {suite}: declare at least one profile, "
                               "e.g. standard=Sizes(...)")
        self.suite = suite
        self.floors: dict[str, float] = dict(floors or {})
        self._profiles: dict[str, S] = {}
        self._kind: type[Any] | None = None
        for name, sizes in profiles.items():
            self.register(name, sizes)

    @property
    def names(self) -> tuple[str, ...]:
        """The profile names this suite knows, in the order they were registered."""
        return tuple(self._profiles)

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def __repr__(self) -> str:
        return f"SuiteProfiles({self.suite!r}, profiles={list(self._profiles)})"

    def get(self, name: str) -> S:
        """The sizes of profile ``name``; :class:`ProfileError` naming the known ones if none."""
        try:
            return self._profiles[name]
        except KeyError:
            raise ProfileError(
                f"suite {self.suite} has no profile {name!r}: it knows {', '.join(self.names)}"
            ) from None

    def register(self, name: str, sizes: S | None = None, *, parent: str | None = None,
                 **changes: Any) -> S:
        """Add profile ``name`` (or replace it) and return its sizes.

        Either give the sizes whole, or derive them from a registered profile: ``parent`` names
        it and ``changes`` are the fields that differ (``parent="full", duration=600``).
        The floors are checked either way.
        """
        self._check_name(name)
        if sizes is not None and (parent is not None or changes):
            raise ProfileError(f"suite {self.suite}, profile {name}: give either the sizes or "
                               "parent= with the changed fields, not both")
        if sizes is None:
            if parent is None:
                raise ProfileError(f"suite {self.suite}, profile {name}: give the sizes, or "
                                   f"parent= one of {', '.join(self.names)} with the fields "
                                   "that differ")
            base = self.get(parent)
            unknown = sorted(set(changes) - _field_names(base))
            if unknown:
                raise ProfileError(
                    f"suite {self.suite}, profile {name}: no size named {', '.join(unknown)}; "
                    f"the sizes are {', '.join(sorted(_field_names(base)))}")
            sizes = dataclasses.replace(base, **changes)
        self._check(name, sizes)
        self._profiles[name] = sizes
        return sizes

    def _check_name(self, name: object) -> None:
        try:
            valid = isinstance(name, str) and parse_profile(name) == name
        except ValueError:
            valid = False
        if not valid:  # --roo-profile could never select it
            raise ProfileError(
                f"suite {self.suite}: profile name {name!r} cannot be given to --roo-profile: "
                "expected lowercase letters, digits, - and _, starting with a letter "
                "(up to 40), e.g. nightly")

    def _check(self, name: str, sizes: S) -> None:
        where = f"suite {self.suite}, profile {name}"
        if not dataclasses.is_dataclass(sizes) or isinstance(sizes, type):
            raise ProfileError(f"{where}: expected an instance of a frozen dataclass of sizes, "
                               f"got {sizes!r}")
        if self._kind is None:
            self._kind = type(sizes)
        elif type(sizes) is not self._kind:
            raise ProfileError(f"{where}: expected {self._kind.__name__}, like the suite's other "
                               f"profiles, got {type(sizes).__name__}")
        fields = _field_names(sizes)
        unknown = sorted(set(self.floors) - fields)
        if unknown:
            raise ProfileError(f"suite {self.suite}: floor on {', '.join(unknown)}, which is "
                               f"not a size of {type(sizes).__name__}")
        for field, floor in self.floors.items():
            value = getattr(sizes, field)
            if value < floor:
                raise ProfileError(f"{where}: {field}={value} is below the criterion's own "
                                   f"figure {floor:g}")


def _field_names(sizes: DataclassInstance) -> set[str]:
    return {field.name for field in dataclasses.fields(sizes)}


@dataclasses.dataclass(frozen=True)
class SelectedProfile:
    """The profile chosen for a run (``--roo-profile``); call it with a suite's profiles to get
    that suite's sizes: ``roo_sizes(ECHO).clients``.

    >>> SelectedProfile("smoke").name
    'smoke'
    """

    name: str

    def __call__(self, profiles: SuiteProfiles[S]) -> S:
        """The sizes ``profiles`` declares for this profile; :class:`ProfileError` if none."""
        return profiles.get(self.name)
