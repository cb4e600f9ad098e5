"""The machine's measured matrix-multiply throughput (GFLOP/s), float32 and bfloat16.

    python -m benchmarks.matmul                       # n = 1024, 2 threads
    python -m benchmarks.matmul --sizes=512,1024,2048 --threads=2

A training step cannot run faster than its matrix work at this rate, so
`benchmarks/train_step.py` divides each model's FLOPs per image by it to show how
close to the hardware limit each model trains. One n x n by n x n product is
2 n^3 floating point operations; each size is timed as the median of `--repeats`
runs of `--iterations` products inside one `tf.function` (no Python per product).
The table is printed and appended, with the machine, to --json.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from benchmarks import records
from gan_tf import precision


def machine():
    """{"cpu", "cores", "flags"}: the processor's model name (lscpu), its core count
    and the instruction sets that matter for bf16 (AVX-512 BF16, AMX)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True,
                                   check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "flags": sorted(precision.cpu_flags() & {
        "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16"})}


def set_threads(threads):
    """Sets TensorFlow's intra- and inter-op threads to `threads` (0: TF's default)."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def measure_gflops(n=1024, dtype="float32", iterations=10, repeats=5):
    """Median GFLOP/s of `iterations` chained (n, n) x (n, n) products in `dtype`.

    Args:
        n: matrix size.
        dtype: "float32" or "bfloat16".
        iterations: products per timed call (amortises the call's overhead).
        repeats: timed calls; the median is returned.

    Returns:
        float, 2 n^3 * iterations / seconds / 1e9.
    """
    import tensorflow as tf

    a = tf.random.normal((n, n), stddev=1.0 / n ** 0.5, seed=0)
    b = tf.cast(tf.random.normal((n, n), stddev=1.0 / n ** 0.5, seed=1), dtype)
    a = tf.cast(a, dtype)

    @tf.function
    def chain(x):
        for _ in range(iterations):  # each product depends on the last: no folding
            x = tf.matmul(x, b)
        return x

    chain(a).numpy()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        chain(a).numpy()
        times.append(time.perf_counter() - start)
    return 2.0 * n ** 3 * iterations / statistics.median(times) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024", help="comma-separated matrix sizes")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2,
                        help="TensorFlow intra- and inter-op threads (0: TF's default)")
    parser.add_argument("--json", default=None, help="append the results to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    set_threads(args.threads)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for dtype in args.dtypes.split(","):
            gflops = measure_gflops(n, dtype, args.iterations, args.repeats)
            rows.append({"n": n, "dtype": dtype, "gflops": round(gflops, 1)})
    info = machine()
    print(f"matmul on {info['cpu']} ({info['cores']} cores; {', '.join(info['flags'])}), "
          f"{args.threads} threads")
    print("| n | dtype | GFLOP/s |\n|---|---|---|")
    for row in rows:
        print(f"| {row['n']} | {row['dtype']} | {row['gflops']:.1f} |")
    if args.json:
        records.append(args.json, "matmul", {"machine": info, "threads": args.threads,
                                             "results": rows})
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
