"""Whether an A/B split has a winner: a test of independence on goals per arm.

A chi-square test of independence (scipy's `chi2_contingency`, Yates-corrected for two
arms) on each arm's runs with and without a goal; Fisher's exact test instead for two
arms when an expected count is under 5, where chi-square is unreliable. Beside the
p-value it gives how many runs per arm a two-sided test at the same level needs to
detect the difference between the two best arms with 80% power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ALPHA = 0.05
POWER = 0.8
SMALL = 5  # an expected count under this calls for the exact test


def split_test(arms: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """Test arms given as {arm: (runs entered, runs that reached a goal)}.

    Answers {"test", "p_value", "significant", "winner", "needed_per_arm"}; `winner` is
    the arm with the best goal rate when the difference is significant, else None.
    """
    import numpy  # heavy, as scipy: loaded when a split is first tested
    from scipy import stats

    live = {arm: (n, min(goals, n)) for arm, (n, goals) in arms.items() if n > 0}
    out: dict[str, Any] = {
        "test": None,
        "p_value": None,
        "significant": False,
        "winner": None,
        "needed_per_arm": None,
    }
    if len(live) < 2:
        return out
    table = [[goals, n - goals] for n, goals in live.values()]
    if all(row[0] == 0 for row in table) or all(row[1] == 0 for row in table):
        out.update(test="chi-square", p_value=1.0)  # every arm alike: nothing to tell apart
    else:
        expected = stats.contingency.expected_freq(table)
        if len(live) == 2 and expected.min() < SMALL:
            exact = stats.fisher_exact(numpy.array(table))
            out.update(test="fisher-exact", p_value=float(exact.pvalue))
        else:
            result = stats.chi2_contingency(table)
            out.update(test="chi-square", p_value=float(result.pvalue))
    rates = sorted(((goals / n, arm) for arm, (n, goals) in live.items()), reverse=True)
    out["significant"] = out["p_value"] is not None and out["p_value"] < ALPHA
    if out["significant"]:
        out["winner"] = rates[0][1]
    out["needed_per_arm"] = needed_per_arm(rates[0][0], rates[1][0])
    return out


def needed_per_arm(p1: float, p2: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Return the runs per arm a two-proportion z-test needs to tell p1 from p2 (None: equal)."""
    if p1 == p2:
        return None
    from scipy import stats

    z_alpha = stats.norm.ppf(1 - alpha / 2)
    z_beta = stats.norm.ppf(power)
    mean = (p1 + p2) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(spread**2 / (p1 - p2) ** 2)
