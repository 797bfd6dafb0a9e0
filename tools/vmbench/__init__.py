"""vmbench's Python code: the tools, the benchmarks and the comparison harness.

One package, imported with tools/ on PYTHONPATH (the entry points in bench/
and tools/ are short sh wrappers that set it; the Makefile's test targets
too).  docs/design.md ("The harness") shows its layers.
"""
