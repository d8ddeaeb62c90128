"""Deterministic test streams, generated identically here and in test/drift/streams.ts.

Only +, -, *, / and comparisons are used (no log, cos, exp), so IEEE-754 makes
Python and JavaScript produce the very same doubles.
"""

MASK = 0xFFFFFFFF


class Mulberry32:
    def __init__(self, seed: int):
        self.a = seed & MASK

    def next(self) -> float:
        self.a = (self.a + 0x6D2B79F5) & MASK
        t = self.a
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & MASK)) & MASK)) & MASK
        return ((t ^ (t >> 14)) & MASK) / 4294967296.0


def normal(rng: Mulberry32) -> float:
    # Irwin-Hall: the sum of 12 uniforms minus 6 is close to a standard normal.
    s = 0.0
    for _ in range(12):
        s += rng.next()
    return s - 6.0


def generate(spec: dict) -> list:
    rng = Mulberry32(spec["seed"])
    scale = spec.get("scale", 1.0)
    out = []
    for seg in spec["segments"]:
        n = seg["n"]
        kind = seg["kind"]
        for i in range(n):
            if kind == "normal":
                v = seg["mean"] + seg["std"] * normal(rng)
            elif kind == "uniform":
                v = seg["low"] + (seg["high"] - seg["low"]) * rng.next()
            elif kind == "bernoulli":
                v = 1.0 if rng.next() < seg["p"] else 0.0
            elif kind == "constant":
                v = seg["value"]
            elif kind == "ramp":
                m = seg["from"] + (seg["to"] - seg["from"]) * (i / n)
                v = m + seg["std"] * normal(rng)
            else:
                raise ValueError(kind)
            out.append(v * scale)
    return out
