"""Benchmarks: each `python -m bench.<topic>` prints a table; `--quick` runs in under a minute and
`--json PATH` writes the figures (snake_case keys with units)."""
