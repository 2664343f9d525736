"""Ratios of evaluations and time between solver paths at equal gradient error, from a precision.json.

    python docs/results/precision/ratios.py docs/results/precision/spheres/precision.json
"""
import json, sys, math
rec = json.load(open(sys.argv[1]))
rows = [r for r in rec["rows"] if r["status"] == "ok"]
levels = [1e-2, 1e-3, 1e-4]
def cheapest(model, path, level, key="nfe"):
    c = [r for r in rows if r["model"] == model and r["path"] == path and r["grad_error"] <= level]
    if not c: return None
    best = min(c, key=lambda r: r["nfe_forward"] + r["nfe_backward"])
    return best["nfe_forward"] + best["nfe_backward"], best["ms_per_step"], best.get("tol"), best.get("steps")
models = list(dict.fromkeys(r["model"] for r in rows))
pairs = [(a, b) for a, b in [("default", "reference"), ("default", "warm"), ("direct", "default"), ("direct", "torchdyn"), ("direct", "plain-direct")]]
for a, b in pairs:
    print(f"\n{a} / {b} (NFE ratio, time ratio) at gradient error <= level")
    for level in levels:
        out = []
        for m in models:
            x, y = cheapest(m, a, level), cheapest(m, b, level)
            out.append(f"{m}: " + ("-" if not x or not y else f"{x[0]/y[0]:.2f}/{x[1]/y[1]:.2f}"))
        print(f"  <= {level:g}: " + ", ".join(out))
