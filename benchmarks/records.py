"""The benchmarks' records: each benchmarks/*.json holds JSON lines, one record (a JSON
object) per line, appended by `append` and read by `read`. Every record has
"benchmark" (the script that wrote it) and "date" ("YYYY-MM-DD HH:MM", the local time
of the machine when it was appended); the rest is the benchmark's own.
"""

import json
import os
import time

DATE_FORMAT = "%Y-%m-%d %H:%M"


def append(path, benchmark, record):
    """Appends {"benchmark", "date", **record} as one line to `path`; returns it."""
    record = {"benchmark": benchmark, "date": time.strftime(DATE_FORMAT), **record}
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


def read(path, benchmark=None):
    """The records in `path`, oldest first (those of `benchmark` only, when given);
    [] when there is no file."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        found = [json.loads(line) for line in f if line.strip()]
    return [r for r in found if benchmark is None or r.get("benchmark") == benchmark]
