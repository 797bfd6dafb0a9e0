"""Tests of tools/vmbench/stats.py."""

import math
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import stats
from vmbench.stats import StatsError

DATA = [2, 4, 4, 4, 5, 5, 7, 9]     # mean 5; squares of deviations sum to 32


class Functions(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(stats.mean(DATA), 5.0)
        self.assertEqual(stats.mean([0.1] * 10), 0.1)   # fsum: no drift

    def test_median(self):
        self.assertEqual(stats.median([3, 1, 2]), 2.0)
        self.assertEqual(stats.median(DATA), 4.5)
        self.assertEqual(stats.median([10, 1]), 5.5)

    def test_stddev_is_the_sample_one(self):
        self.assertAlmostEqual(stats.stddev(DATA), math.sqrt(32 / 7), places=12)
        self.assertEqual(stats.stddev([5, 5, 5]), 0.0)

    def test_min_max(self):
        self.assertEqual(stats.minimum(DATA), 2.0)
        self.assertEqual(stats.maximum(DATA), 9.0)

    def test_cv(self):
        self.assertAlmostEqual(stats.cv(DATA), math.sqrt(32 / 7) / 5, places=12)
        self.assertAlmostEqual(stats.cv([-2, -4]), math.sqrt(2) / 3, places=12)
        self.assertIsNone(stats.cv([-1, 1]))

    def test_ratio(self):
        self.assertEqual(stats.ratio(1500, 3000), 0.5)
        self.assertEqual(stats.ratio(0, 7), 0.0)
        with self.assertRaisesRegex(StatsError, "reference of 0"):
            stats.ratio(1, 0)
        with self.assertRaises(StatsError):
            stats.ratio(float("nan"), 1)
        with self.assertRaises(StatsError):
            stats.ratio(1, None)

    def test_summarise(self):
        s = stats.summarise(DATA)
        self.assertEqual(set(s), {"n", "median", "mean", "stddev", "min", "max", "cv"})
        self.assertEqual((s["n"], s["median"], s["mean"], s["min"], s["max"]),
                         (8, 4.5, 5.0, 2.0, 9.0))
        self.assertAlmostEqual(s["stddev"], math.sqrt(32 / 7), places=12)
        self.assertEqual(stats.summarise(x for x in DATA), s)   # any iterable

    def test_one_element(self):
        self.assertEqual(stats.summarise([4315.0]),
                         {"n": 1, "median": 4315.0, "mean": 4315.0, "stddev": 0.0,
                          "min": 4315.0, "max": 4315.0, "cv": 0.0})


class Refusals(unittest.TestCase):
    FUNCS = (stats.mean, stats.median, stats.stddev, stats.minimum, stats.maximum, stats.cv,
             stats.summarise)

    def test_empty(self):
        for f in self.FUNCS:
            with self.subTest(f.__name__), self.assertRaisesRegex(StatsError, "empty"):
                f([])

    def test_not_numbers(self):
        for bad in (["1"], [None], [True, 2], [float("nan")], [1, float("inf")], 5):
            for f in self.FUNCS:
                with self.subTest(f=f.__name__, bad=bad), self.assertRaises(StatsError):
                    f(bad)


if __name__ == "__main__":
    unittest.main()
