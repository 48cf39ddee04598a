"""The decision on several seeds, simulated: how often it names a winner that is not there, and finds one that is.

Each simulated comparison is text-only, canny, pose, depth and IP-Adapter on 4 seeds. A score is a seed effect
every method shares (the same starting noise) plus the method's own noise; the *seed spread* is the standard
deviation of a method's paired difference to text-only across seeds (what the paired test sees).
"""

from __future__ import annotations

import random

from app.fit import advise
from app.fit.decision import leads, paired_tests
from app.fit.matrix import FitMatrix

METHODS = ("text", "canny", "pose", "depth", "ip_adapter")
FITS = {
    "prompt": (0.30, 0.01),
    "edges": (0.20, 0.05),
    "pose": (0.30, 0.08),
    "depth": (0.40, 0.06),
    "reference": (0.5, 0.04),
}
SEEDS = 4
TRIALS = 200


def simulate(rng: random.Random, depth_gain_in_spreads: float = 0.0) -> FitMatrix:
    samples: dict[str, dict[str, list[float]]] = {m: {} for m in METHODS}
    for fit, (centre, noise) in FITS.items():
        seed_effect = [rng.gauss(0.0, noise) for _ in range(SEEDS)]
        for method in METHODS:
            planted = depth_gain_in_spreads * noise * 2**0.5 if (method, fit) == ("depth", "depth") else 0.0
            samples[method][fit] = [centre + planted + e + rng.gauss(0.0, noise) for e in seed_effect]
    return FitMatrix.from_samples(samples)


def test_with_no_true_difference_a_winner_is_named_in_at_most_5_percent():
    rng = random.Random(2024)
    named = sum(advise(simulate(rng)).winner not in (None, "text") for _ in range(TRIALS))
    assert named / TRIALS <= 0.05, named


def test_a_structure_gain_of_twice_the_seed_spread_is_found_in_at_least_80_percent():
    rng = random.Random(7)
    found = sum(advise(simulate(rng, depth_gain_in_spreads=2.0)).winner == "depth" for _ in range(TRIALS))
    assert found / TRIALS >= 0.80, found


def test_the_highlighted_cells_are_the_tests_that_passed():
    rng = random.Random(11)
    for _ in range(50):
        matrix = simulate(rng, depth_gain_in_spreads=rng.choice([0.0, 2.0, 4.0]))
        passed = {(m, c) for (m, c), test in paired_tests(matrix).items() if test.clear}
        highlighted = {
            (m, c)
            for c, methods in leads(matrix).items()
            for m in methods
            if c in ("edges", "pose", "depth", "reference")
        }
        assert highlighted <= passed
        assert all(matrix.interval(m, "depth") is not None for m in METHODS)  # every score has its interval
