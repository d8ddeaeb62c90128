"""Times river's ADWIN on the benchmark streams; prints one JSON line.

Called by bench/adwin.ts: argv[1] is a JSON list of stream specs (the same
generator as the fixtures), argv[2] the number of timed runs per stream (the
best is kept, as for the TypeScript side).
"""
import json
import os
import sys
import time

import river
from river import drift

sys.path.insert(0, os.path.dirname(__file__))
from streams import generate  # noqa: E402

specs = json.loads(sys.argv[1])
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
results = []
for spec in specs:
    values = generate(spec)
    best = float("inf")
    for _ in range(reps):
        detector = drift.ADWIN()
        detections = []
        start = time.perf_counter()
        for i, x in enumerate(values):
            detector.update(x)
            if detector.drift_detected:
                detections.append(i)
        best = min(best, time.perf_counter() - start)
    results.append({"n": len(values), "seconds": best, "detections": detections})
print(json.dumps({"river": river.__version__, "results": results}))
