"""The data-loss window (RPO) of a backup from the acknowledged writes and what it holds."""

from __future__ import annotations

import doctest

import pytest

from pytest_roo.results import data_loss
from pytest_roo.results.data_loss import LossWindow, loss_window


def test_the_docstring_example_holds() -> None:
    assert doctest.testmod(data_loss).failed == 0


def test_a_backup_holding_every_acknowledged_write_loses_nothing() -> None:
    # the last write came a while before the disaster: a quiet time is no data lost
    window = loss_window([("a", 1.0), ("b", 2.0)], {"a", "b"}, destroyed=3.0)
    assert window == LossWindow(0.0, 2.0, 0, 0, 2)


def test_the_window_runs_from_the_newest_write_held_whatever_the_input_order() -> None:
    acks = [("late", 4.0), ("early", 1.0), ("hole", 2.5), ("kept", 3.0)]
    window = loss_window(acks, {"early", "kept"}, destroyed=6.0)
    assert window.recovery_point == 3.0
    assert window.seconds == pytest.approx(3.0)
    # "hole" is missing from before the recovery point: counted, not the window
    assert (window.lost, window.holes, window.acknowledged) == (1, 1, 4)


def test_holes_alone_open_no_window() -> None:
    window = loss_window([("a", 1.0), ("b", 2.0)], {"b"}, destroyed=3.0)
    assert window == LossWindow(0.0, 2.0, 0, 1, 2)


def test_writes_acknowledged_after_the_disaster_began_are_left_out() -> None:
    window = loss_window([("a", 1.0), ("b", 5.0)], {"a"}, destroyed=5.0)
    assert window == LossWindow(0.0, 1.0, 0, 0, 1)


def test_nothing_held_loses_everything_since_the_first_write() -> None:
    window = loss_window([("b", 2.0), ("a", 1.5)], set(), destroyed=4.0)
    assert window == LossWindow(2.5, None, 2, 0, 2)


def test_no_writes_lose_nothing() -> None:
    assert loss_window([], set(), destroyed=1.0) == LossWindow(0.0, None, 0, 0, 0)
