"""Scripts that measure gan_tf's speed, memory and quality (docs/performance.md).

Run each from the repository root as a module, e.g. `python -m benchmarks.matmul`;
they append their records to benchmarks/*.json through `benchmarks.records`.
"""
