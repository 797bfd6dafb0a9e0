"""The companion harness behind bench/compare (see bench/compare --help)."""
