"""Time from Rig.set() to the bent tensor installed in the model, against in-process baselines.

  python bench/bend_apply.py [--model PATH] [--repeats N] [--json]

Baselines, run in the same process on the same tensors:
  fresh RNG   recompute with freshly drawn random numbers on every change (per-block bending tools)
  list        tensor -> Python list -> tensor, as the nn~ bending forks ship weights
Targets (issue 2): largest v2 tensor, elementwise at 100 %: median <= 2 ms and >= 50x faster than
the list baseline; every tensor at once (a scene recall): median <= 30 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._models import full_v2  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.rig import Rig  # noqa: E402


def timed(fn, repeats: int, warmup: int = 2) -> list[float]:
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(warmup + i)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))], "max_ms": ms[-1], "n": len(ms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="an nn~ export (default: a full-size RAVE v2)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a live model thread)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    path = args.model or full_v2()
    model = load_model(path)
    rig = Rig(model)
    largest = max(rig.tensors, key=lambda t: t.size)
    live = dict(model.module.named_parameters())
    results: dict[str, dict] = {}

    def to_installed(address: str, values):
        def run(i: int) -> None:
            rig.set(address, values[i % len(values)])
            rig.compute_pending()
            rig.install_pending()
        return run

    a = f"#{largest.index}/0"
    cases = [
        ("scale", "factor", [1.5, 2.0, -1.0, 0.5]),
        ("offset", "value", [0.5, 1.0, -0.5]),
        ("noise", "sigma", [0.5, 1.0, 2.0]),  # gaussian drawn once per seed, reused
        ("clamp", "limit", [0.5, 1.0, 2.0]),
        ("invert", "seed", [0, 1]),  # no parameter: a seed change makes it recompute
    ]
    for transform, field, values in cases:
        rig.set(f"{a}/transform", transform)
        field_address = f"{a}/{field}"
        results[f"largest: {transform} 100%"] = summary(timed(to_installed(field_address, values), args.repeats))
    rig.set(f"{a}/transform", "noise")
    results["largest: noise, amount sweep"] = summary(
        timed(to_installed(f"{a}/amount", [0.2, 0.4, 0.6, 0.8]), args.repeats))
    rig.set(f"{a}/amount", 1.0)
    results["largest: noise, percent sweep (random mask)"] = summary(
        timed(to_installed(f"{a}/percent", [0.2, 0.4, 0.6, 0.8]), args.repeats))
    rig.set("bends/reset", 1)
    rig.compute_pending(), rig.install_pending()

    # A scene recall: every tensor of the model gets a new bend, all installed on one boundary.
    for t in rig.tensors:
        rig.set(f"#{t.index}/0/transform", "noise")
    rig.compute_pending(), rig.install_pending()

    def recall(i: int) -> None:
        for t in rig.tensors:
            rig.set(f"#{t.index}/0/sigma", 0.5 + (i % 3) * 0.25)
        rig.compute_pending()
        rig.install_pending()
    results["all tensors: scene recall"] = summary(timed(recall, max(5, args.repeats // 3)))

    # Baselines, same tensors, same process.
    originals = {t.name: rig.bank.original(t.index) for t in rig.tensors}
    big = live[largest.name]
    big_orig = originals[largest.name].clone()

    def fresh_rng_largest(i: int) -> None:
        with torch.no_grad():
            big.copy_(big_orig + torch.randn_like(big_orig) * largest.std)

    def fresh_rng_all(i: int) -> None:
        with torch.no_grad():
            for t in rig.tensors:
                orig = originals[t.name]
                live[t.name].copy_(orig + torch.randn_like(orig) * max(t.std, 1e-8))

    def list_transfer(i: int) -> None:
        values = (big_orig * 1.5).flatten().tolist()
        with torch.no_grad():
            big.copy_(torch.tensor(values, dtype=big_orig.dtype).view_as(big_orig))

    results["baseline largest: fresh RNG"] = summary(timed(fresh_rng_largest, args.repeats))
    results["baseline largest: list transfer"] = summary(timed(list_transfer, max(5, args.repeats // 5), warmup=1))
    results["baseline all tensors: fresh RNG"] = summary(timed(fresh_rng_all, max(5, args.repeats // 3)))
    rig.set("bends/reset", 1)
    rig.compute_pending(), rig.install_pending()

    ours_largest = max(results[f"largest: {c[0]} 100%"]["median_ms"] for c in cases)
    report = {
        "model": str(path), "parameters": sum(t.size for t in rig.tensors), "tensors": len(rig.tensors),
        "largest": {"name": largest.name, "shape": list(largest.shape), "size": largest.size},
        "threads": args.threads,
        "results": results,
        "ratios": {
            "list / ours (largest, slowest elementwise case)":
                results["baseline largest: list transfer"]["median_ms"] / ours_largest,
            "fresh RNG / ours (largest, noise)":
                results["baseline largest: fresh RNG"]["median_ms"] / results["largest: noise 100%"]["median_ms"],
            "fresh RNG / ours (all tensors)":
                results["baseline all tensors: fresh RNG"]["median_ms"] / results["all tensors: scene recall"]["median_ms"],
        },
        "targets": {
            "largest elementwise median <= 2 ms": ours_largest <= 2.0,
            "largest >= 50x faster than list": results["baseline largest: list transfer"]["median_ms"] / ours_largest >= 50,
            "all tensors median <= 30 ms": results["all tensors: scene recall"]["median_ms"] <= 30.0,
        },
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"model {path.name}: {report['parameters']:,} values in {report['tensors']} tensors; largest "
          f"{largest.name} {'x'.join(map(str, largest.shape))} ({largest.size:,}); torch threads {args.threads}\n")
    print(f"{'case (set() -> installed)':<46} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'n':>4}")
    for name, r in results.items():
        print(f"{name:<46} {r['median_ms']:>10.2f} {r['p90_ms']:>8.2f} {r['max_ms']:>8.2f} {r['n']:>4}")
    print()
    for name, ratio in report["ratios"].items():
        print(f"{name:<58} {ratio:>8.1f}x")
    for name, ok in report["targets"].items():
        print(f"target {name:<51} {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
