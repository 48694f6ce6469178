"""The calorimeter benchmark's reference window at a method's fake-cluster rate (benchmarks/calorimeter_clustering.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from calorimeter_clustering import window_at_fake_rate  # noqa: E402  (benchmarks/ is not a package)


def _window(peak: float, fake: float, hard: float) -> dict[str, float]:
    return {"photopeak_efficiency": peak, "fake_cluster_rate": fake, "photopeak_efficiency_hard": hard}


# 0.1 rad is beaten by 0.2 rad in both (more photopeak, fewer fakes); from 0.2 rad on, wider windows trade
# photopeak efficiency for fewer fake clusters
SCAN = {"0.1": _window(0.30, 0.40, 0.20), "0.2": _window(0.50, 0.20, 0.40), "0.3": _window(0.46, 0.12, 0.36),
        "0.4": _window(0.40, 0.10, 0.30)}


def test_the_window_at_a_fake_rate_interpolates_the_trade_off_curve() -> None:
    window = window_at_fake_rate(SCAN, 0.16)  # halfway between 0.2 and 0.3 rad
    assert window == pytest.approx({"half_angle": 0.25, "photopeak_efficiency": 0.48, "photopeak_efficiency_hard": 0.38})
    assert window_at_fake_rate(SCAN, 0.10)["half_angle"] == pytest.approx(0.4)  # an end of the curve itself


def test_no_window_outside_the_curve_and_dominated_windows_never_count() -> None:
    assert window_at_fake_rate(SCAN, 0.05) is None  # fewer fake clusters than any window
    assert window_at_fake_rate(SCAN, 0.30) is None  # 0.1 rad reaches 0.40, but 0.2 rad beats it in both
