"""Speed and memory benchmarks: `python benchmarks/run.py --help`."""
