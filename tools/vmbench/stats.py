"""Summary statistics of repeated measurements (the harness's tables).

All functions take a non-empty sequence of numbers (int or float, not bool,
finite) and refuse anything else with a StatsError that says what was
wrong; one value is fine (its stddev is 0.0: there is no spread to see).

    >>> from vmbench import stats
    >>> stats.summarise([10.0, 12.0, 11.0])
    {'n': 3, 'median': 11.0, 'mean': 11.0, 'stddev': 1.0, 'min': 10.0, 'max': 12.0, 'cv': 0.0909...}
"""

import math
import numbers

__all__ = ["StatsError", "median", "mean", "stddev", "minimum", "maximum", "cv", "ratio",
           "summarise"]


class StatsError(ValueError):
    """The values cannot be summarised (empty, not numbers, not finite)."""


def _values(values, what="values"):
    try:
        vals = list(values)
    except TypeError:
        raise StatsError(f"{what} must be a sequence of numbers, not {type(values).__name__}") from None
    if not vals:
        raise StatsError(f"no {what}: cannot summarise an empty list")
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise StatsError(f"{what} must be numbers, not {v!r}")
        if not math.isfinite(v):
            raise StatsError(f"{what} must be finite, not {v!r}")
    return [float(v) for v in vals]


def mean(values):
    """The arithmetic mean (math.fsum, so no loss on long lists)."""
    vals = _values(values)
    return math.fsum(vals) / len(vals)


def median(values):
    """The middle value; the mean of the two middle values for an even count."""
    vals = sorted(_values(values))
    n, mid = len(vals), len(vals) // 2
    return vals[mid] if n % 2 else (vals[mid - 1] + vals[mid]) / 2


def stddev(values):
    """The sample standard deviation (n - 1 in the denominator); 0.0 for one value."""
    vals = _values(values)
    if len(vals) == 1:
        return 0.0
    m = math.fsum(vals) / len(vals)
    return math.sqrt(math.fsum((v - m) ** 2 for v in vals) / (len(vals) - 1))


def minimum(values):
    return min(_values(values))


def maximum(values):
    return max(_values(values))


def cv(values):
    """The coefficient of variation: sample stddev / mean (a fraction, not %).

    None when the mean is 0 (the spread cannot be relative to nothing).
    """
    m = mean(values)
    return None if m == 0 else stddev(values) / abs(m)


def ratio(value, reference):
    """value / reference, e.g. a platform's median over native's.

    Both numbers, finite; a zero reference raises StatsError.
    """
    value = _values([value], "value")[0]
    reference = _values([reference], "reference")[0]
    if reference == 0:
        raise StatsError("ratio to a reference of 0 is undefined")
    return value / reference


def summarise(values):
    """{n, median, mean, stddev, min, max, cv} of the values."""
    vals = _values(values)
    return {"n": len(vals), "median": median(vals), "mean": mean(vals),
            "stddev": stddev(vals), "min": min(vals), "max": max(vals), "cv": cv(vals)}
