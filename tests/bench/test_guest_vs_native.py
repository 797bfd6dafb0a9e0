"""bench/guest-vs-native's goals (issue 12): which cases have one, and the
verdict line each gets.  No benchmark runs here."""

import unittest

from vmbench import guest_vs_native


class Goals(unittest.TestCase):
    def test_cases_with_goals(self):
        with_goal = {(test, name): guest_vs_native.goal(test, name)
                     for test, name, *_ in guest_vs_native.cases(None)
                     if guest_vs_native.goal(test, name) is not None}
        self.assertEqual(with_goal, {
            ("cpu", "prime 10000, 1 thread"): 0.98, ("cpu", "prime 10000, 2 threads"): 0.98,
            ("cpu", "prime 20000, 1 thread"): 0.98, ("cpu", "prime 20000, 2 threads"): 0.98,
            ("memory", "1M read seq"): 0.95, ("memory", "1M write seq"): 0.95})

    def test_verdicts(self):
        todo = guest_vs_native.cases("memory")
        lines = guest_vs_native.goal_lines(todo, {"1M read seq": 0.949, "1M write seq": 0.95,
                                                  "1K read seq": 0.5})
        self.assertEqual(lines, [
            "goal memory 1M read seq: guest/native 0.949 >= 0.95: NOT met",
            "goal memory 1M write seq: guest/native 0.950 >= 0.95: met"])


if __name__ == "__main__":
    unittest.main()
