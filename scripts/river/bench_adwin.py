"""Times river's ADWIN on the benchmark streams; prints one JSON line.

Called by bench/adwin.ts with a JSON list of stream specs (same generator as the fixtures).
"""
import json
import os
import sys
import time

from river import drift

sys.path.insert(0, os.path.dirname(__file__))
from streams import generate  # noqa: E402

specs = json.loads(sys.argv[1])
results = []
for spec in specs:
    values = generate(spec)
    detector = drift.ADWIN()
    detections = []
    start = time.perf_counter()
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            detections.append(i)
    elapsed = time.perf_counter() - start
    results.append({"n": len(values), "seconds": elapsed, "detections": detections})
print(json.dumps({"river": __import__("river").__version__, "results": results}))
