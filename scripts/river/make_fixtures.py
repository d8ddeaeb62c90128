"""Writes the golden ADWIN fixtures in test/fixtures/adwin/ with river itself.

Run: bash scripts/river/setup.sh && .venv/river/bin/python scripts/river/make_fixtures.py

Each fixture holds the stream's recipe (a seeded generator, or a channel of the
HAPT recordings), the parameters, every index river reported a drift at, a
sha256 of river's (width, total, variance) doubles at every step, and
checkpoints (width, estimation, variance): every step for streams of up to
20,000 values, every 1,000th step and the steps around each detection for
longer ones, to say where a mismatch starts.
"""
import csv
import gzip
import hashlib
import json
import os
import sys
from array import array

import river
from river import drift

sys.path.insert(0, os.path.dirname(__file__))
from streams import generate  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "adwin")
HAR = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "har"))
TRAIN = "hapt-raw-train.csv.gz"
TEST = "hapt-raw-test.csv.gz"
# Streams up to this length get a checkpoint at every step; longer ones every 1,000th step and around detections.
DENSE_UP_TO = 20_000
PARAM_KEYS = {"delta": "delta", "clock": "clock", "maxBuckets": "max_buckets",
              "minWindowLength": "min_window_length", "gracePeriod": "grace_period"}


def seg(kind, n, **kw):
    return {"kind": kind, "n": n, **kw}


def synthetic():
    s = []
    add = lambda name, segments, seed, params=None, scale=1.0: s.append(
        {"name": name, "source": {"type": "synthetic", "seed": seed, "scale": scale, "segments": segments},
         "params": params or {}})
    add("abrupt-mean-shift", [seg("normal", 2000, mean=0.0, std=1.0), seg("normal", 2000, mean=1.0, std=1.0)], 1)
    add("abrupt-small-shift", [seg("normal", 3000, mean=0.0, std=1.0), seg("normal", 3000, mean=0.3, std=1.0)], 2)
    add("abrupt-large-shift", [seg("normal", 1000, mean=0.0, std=0.1), seg("normal", 1000, mean=5.0, std=0.1)], 3)
    add("multi-shift", [seg("normal", 1500, mean=m, std=1.0) for m in (0.0, 2.0, -1.0, 3.0, 0.0)], 4)
    add("gradual-ramp", [seg("normal", 1000, mean=0.0, std=1.0), seg("ramp", 3000, **{"from": 0.0, "to": 2.0, "std": 1.0}),
                         seg("normal", 1000, mean=2.0, std=1.0)], 5)
    add("slow-ramp", [seg("ramp", 10000, **{"from": 0.0, "to": 1.0, "std": 0.5})], 6)
    add("variance-only", [seg("normal", 3000, mean=0.0, std=0.5), seg("normal", 3000, mean=0.0, std=3.0)], 7)
    add("bernoulli-error-rise", [seg("bernoulli", 3000, p=0.1), seg("bernoulli", 3000, p=0.3)], 8)
    add("bernoulli-stable", [seg("bernoulli", 8000, p=0.2)], 9)
    add("bernoulli-small-rise", [seg("bernoulli", 5000, p=0.05), seg("bernoulli", 5000, p=0.1)], 10)
    add("constant-zero", [seg("constant", 5000, value=0.0)], 11)
    add("constant-then-step", [seg("constant", 2000, value=1.0), seg("constant", 2000, value=2.0)], 12)
    add("uniform-stable", [seg("uniform", 6000, low=-1.0, high=1.0)], 13)
    add("uniform-shift", [seg("uniform", 2000, low=0.0, high=1.0), seg("uniform", 2000, low=0.5, high=1.5)], 14)
    add("tiny-magnitudes", [seg("normal", 2000, mean=0.0, std=1.0), seg("normal", 2000, mean=1.0, std=1.0)], 15, scale=1e-12)
    add("huge-magnitudes", [seg("normal", 2000, mean=0.0, std=1.0), seg("normal", 2000, mean=1.0, std=1.0)], 16, scale=1e12)
    add("huge-offset", [seg("normal", 3000, mean=1e12, std=1.0), seg("normal", 3000, mean=1e12 + 2.0, std=1.0)], 17)
    add("short-stream", [seg("normal", 40, mean=0.0, std=1.0), seg("normal", 40, mean=10.0, std=1.0)], 18)
    add("delta-0.1", [seg("normal", 3000, mean=0.0, std=1.0), seg("normal", 3000, mean=0.5, std=1.0)], 19, {"delta": 0.1})
    add("delta-1e-5", [seg("normal", 3000, mean=0.0, std=1.0), seg("normal", 3000, mean=1.0, std=1.0)], 20, {"delta": 1e-5})
    add("clock-1", [seg("normal", 2000, mean=0.0, std=1.0), seg("normal", 2000, mean=1.0, std=1.0)], 21, {"clock": 1})
    add("clock-7", [seg("normal", 2000, mean=0.0, std=1.0), seg("normal", 2000, mean=1.0, std=1.0)], 22, {"clock": 7})
    add("max-buckets-3", [seg("normal", 3000, mean=0.0, std=1.0), seg("normal", 3000, mean=1.0, std=1.0)], 23, {"max_buckets": 3})
    add("max-buckets-9", [seg("normal", 3000, mean=0.0, std=1.0), seg("normal", 3000, mean=1.0, std=1.0)], 24, {"max_buckets": 9})
    add("min-window-20-grace-100", [seg("normal", 3000, mean=0.0, std=1.0), seg("normal", 3000, mean=0.7, std=1.0)], 25,
        {"min_window_length": 20, "grace_period": 100})
    add("all-non-default", [seg("bernoulli", 4000, p=0.2), seg("bernoulli", 4000, p=0.35)], 26,
        {"delta": 0.01, "clock": 16, "max_buckets": 4, "min_window_length": 10, "grace_period": 30})
    add("long-stable-1m", [seg("normal", 1_000_000, mean=0.0, std=1.0)], 27)
    add("long-shifts-1m", [seg("normal", 250_000, mean=m, std=1.0) for m in (0.0, 0.2, -0.1, 0.5)], 28)
    add("long-bernoulli-1m", [seg("bernoulli", 500_000, p=0.1), seg("bernoulli", 500_000, p=0.12)], 29)
    return s


def har_streams():
    out = []
    # user/exp None means every user/recording of the file, in file order.
    for name, file, user, exp, column, params in (
        ("har-user1-acc_x", TRAIN, 1, None, "acc_x", {}),
        ("har-user1-gyro_z", TRAIN, 1, None, "gyro_z", {}),
        ("har-user3-acc_y", TRAIN, 3, None, "acc_y", {}),
        ("har-user5-acc_z-clock1", TRAIN, 5, None, "acc_z", {"clock": 1}),
        ("har-user1-exp2-acc_x", TRAIN, 1, 2, "acc_x", {}),
        ("har-user6-exp12-gyro_x", TRAIN, 6, 12, "gyro_x", {"delta": 0.05}),
        ("har-test-user2-exp3-acc_z", TEST, 2, 3, "acc_z", {}),
        ("har-train-acc_x-all", TRAIN, None, None, "acc_x", {}),
    ):
        out.append({"name": name, "source": {"type": "har", "file": file, "user": user, "exp": exp, "column": column},
                    "params": params})
    return out


def load_har(source, cache={}):
    key = source["file"]
    if key not in cache:
        with gzip.open(os.path.join(HAR, key), "rt", newline="") as fh:
            cache[key] = list(csv.DictReader(fh))
    rows = cache[key]
    return [float(r[source["column"]]) for r in rows
            if (source["user"] is None or int(r["user"]) == source["user"])
            and (source["exp"] is None or int(r["exp"]) == source["exp"])]


def run(values, params):
    detector = drift.ADWIN(**params)
    steps = array("d")
    detections = []
    n = len(values)
    dense = n <= DENSE_UP_TO
    checkpoints = []
    near = set()
    for i, x in enumerate(values):
        detector.update(x)
        w, t, v = float(detector.width), float(detector.total), float(detector.variance)
        steps.extend((w, t, v))
        if detector.drift_detected:
            detections.append(i)
            near.update((i - 1, i, i + 1))
        if dense or i % 1000 == 0 or i == n - 1:
            checkpoints.append([i, w, detector.estimation, v])
    if not dense:
        for i in sorted(near):
            if 0 <= i < n:
                w, t, v = steps[3 * i], steps[3 * i + 1], steps[3 * i + 2]
                checkpoints.append([i, w, t / w if w else 0.0, v])
        checkpoints.sort(key=lambda c: c[0])
    if sys.byteorder != "little":
        steps.byteswap()
    return detections, hashlib.sha256(steps.tobytes()).hexdigest(), checkpoints


def main():
    os.makedirs(OUT, exist_ok=True)
    specs = synthetic() + har_streams()
    for spec in specs:
        src = spec["source"]
        values = generate(src) if src["type"] == "synthetic" else load_har(src)
        detections, digest, checkpoints = run(values, spec["params"])
        ts_params = {k: spec["params"][v] for k, v in PARAM_KEYS.items() if v in spec["params"]}
        fixture = {"name": spec["name"], "river": river.__version__, "params": ts_params, "source": src,
                   "length": len(values), "detections": detections, "stepsSha256": digest,
                   "checkpoints": checkpoints}
        # mtime=0: the same river output gives the same bytes, so a rerun leaves git clean.
        with open(os.path.join(OUT, spec["name"] + ".json.gz"), "wb") as raw, \
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(json.dumps(fixture, separators=(",", ":")).encode())
        print(f"{spec['name']}: {len(values)} values, {len(detections)} detections")


if __name__ == "__main__":
    main()
