"""Whether a split has a winner: clear ones are found, coin flips are not called."""

from __future__ import annotations

import pytest

from bot.analytics.splits import needed_per_arm, split_test


def test_a_clear_winner_is_significant_and_named() -> None:
    result = split_test({"a": (400, 120), "b": (400, 60)})
    assert result["test"] == "chi-square"
    assert result["p_value"] < 0.001
    assert (result["significant"], result["winner"]) == (True, "a")
    assert result["needed_per_arm"] < 400  # the sample was more than enough


def test_a_small_difference_on_few_runs_has_no_winner_and_says_what_it_needs() -> None:
    result = split_test({"a": (50, 11), "b": (50, 9)})
    assert (result["significant"], result["winner"]) == (False, None)
    assert result["p_value"] > 0.5
    assert result["needed_per_arm"] > 1000


def test_few_runs_take_the_exact_test() -> None:
    result = split_test({"a": (8, 7), "b": (8, 1)})
    assert result["test"] == "fisher-exact"
    assert result["significant"] and result["winner"] == "a"


def test_three_arms_are_tested_together() -> None:
    result = split_test({"a": (300, 30), "b": (300, 31), "c": (300, 90)})
    assert result["test"] == "chi-square"
    assert result["winner"] == "c"


@pytest.mark.parametrize("arms", [{}, {"a": (10, 3)}, {"a": (10, 3), "b": (0, 0)}])
def test_fewer_than_two_arms_with_runs_cannot_be_tested(arms) -> None:
    assert split_test(arms)["p_value"] is None


def test_equal_rates_need_no_sample_size() -> None:
    assert needed_per_arm(0.2, 0.2) is None
    # The textbook figure: 10% against 15% at 5% and 80% power needs about 686 per arm.
    needed = needed_per_arm(0.15, 0.10)
    assert needed is not None and 680 <= needed <= 690
