"""How good is a model? Loudness, level, spectrum, pitch, harmonicity and speed against the bar.

  python bench/model_quality.py [MODEL] [--random MODEL] [--block N] [--heldout-seed N] [--json]
                                [--plots DIR] [--bend ADDRESS=VALUE ...] [--probes-only]

MODEL: a .ts file or an embedded model's name (default, studio); default models/default.ts.
Every signal is streamed through the model in blocks of its own size (its ratio when that is
small, as the live model's 128; else 2048: see performer.audio.engine.default_block_size) from
fresh caches; the output is aligned to the input (the model's delay) and compared with it
(performer/train/quality.py says how each figure is measured). Signals: the probes the model
never trains on (performer/train/probes.py: glide, noise_bursts, speechlike), held-out
training-distribution audio (performer.train.data.make_pool with a seed training does not use)
and held-out pitched material with its true f0 (pitched_segments), both rendered at the
model's rate.

The bar (the studio model's; the live model's, issue 17, differs where said):
  loudness  r of the 20 ms dB envelopes >= 0.9 on every signal
  level     output RMS within +-3 dB of the input's on every signal
  mss       multi-scale STFT distance on held-out audio <= 0.15 x (live: 0.2 x) that of a
            random-weights model of the same architecture (--random; for Performer's own models it is
            built from the ModelConfig and seed the export records, else without it the MSS is
            reported, not judged)
  pitch     f0 within 50 cents on >= 80 % of the input's voiced frames (held-out pitched)
  hnr       output HNR within 6 dB of the input's, same frames (held-out pitched)
  rtf       one thread, the model's own blocks: median block time <= 0.1 x block duration
            (live: 0.3 x, at its 128-sample blocks)

--bend ADDRESS=VALUE (repeatable, as `performer render --bend`) applies bends through the rig
and its block engine; --plots DIR writes one spectrogram PNG per signal, input over output
(named SIGNAL.png, or SIGNAL_bent.png with bends), needing matplotlib.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from performer.errors import PerformerError  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.train.quality import evaluate, finite_or_none, stft_magnitude  # noqa: E402
HELDOUT_SEED = 12345  # training draws its pool from seed 0 (TrainConfig.seed) unless told otherwise


def _bend(text: str) -> tuple[str, str]:
    address, sep, value = text.partition("=")
    if not sep or not address:
        raise argparse.ArgumentTypeError(f"--bend takes ADDRESS=VALUE (e.g. '#3/0/amount=0.5'), got {text!r}")
    return address.strip(), value.strip()


def heldout_material(seed: int, seconds: float, pitched_count: int, pitched_seconds: float, sample_rate: int):
    try:
        from performer.train.data import make_pool, pitched_segments
    except ImportError as exc:
        raise SystemExit(f"held-out audio comes from performer.train.data (make_pool, pitched_segments), which "
                         f"cannot be imported ({exc}); run with --probes-only to judge the probe signals alone")
    pool = np.asarray(make_pool(seed, seconds, sample_rate), dtype=np.float32).reshape(-1)
    pitched = pitched_segments(seed, pitched_count, pitched_seconds, sample_rate)
    return pool, pitched


def default_random_reference(model):
    """For Performer's own models: the random-weights model their training started from (the
    architecture and seed the export records; see performer/train/origin.py)."""
    from performer.train.origin import recorded_origin

    origin = recorded_origin(model)
    if origin is None:
        return None
    import tempfile

    from performer.train.export import export_model
    from performer.train.release import random_weights_model
    from performer.train.trainer import TrainConfig

    config, seed = origin
    path = Path(tempfile.mkdtemp(prefix="performer-random-")) / "random.ts"
    return load_model(export_model(random_weights_model(TrainConfig(seed=seed, model=config)), path, seed))


def _fmt(value, spec: str, width: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"{'-':>{width}}"
    return format(value, spec).rjust(width)


def print_table(report: dict, bends: list[tuple[str, str]]) -> None:
    delay = report["first_response_delay"]
    print(f"model {report['model']} at {report['sample_rate']} Hz, {report['block']}-sample blocks"
          + (f", first response after {delay} samples" if delay is not None else "")
          + (f"; bends: {', '.join(f'{a}={v}' for a, v in bends)}" if bends else ""))
    print("lag: the output's delay found by alignment, in samples")
    print(f"\n{'signal':<14} {'loud r':>7} {'level dB':>9} {'pitch %':>8} {'cents':>7} {'HNR in':>7} "
          f"{'HNR out':>8} {'MSS':>8} {'lag':>6}")
    for name, s in report["signals"].items():
        pitch = None if s["pitch_fraction"] is None else 100 * s["pitch_fraction"]
        print(f"{name:<14} {_fmt(s['loudness_r'], '.3f', 7)} {_fmt(s['level_db'], '+.2f', 9)} "
              f"{_fmt(pitch, '.1f', 8)} {_fmt(s['median_cents'], '.1f', 7)} {_fmt(s['hnr_in'], '.1f', 7)} "
              f"{_fmt(s['hnr_out'], '.1f', 8)} {_fmt(s['mss'], '.2f', 8)} {s['lag']:>6}")
    print()
    if report["mss_ratio"] is not None:
        print(f"MSS held-out {report['mss_heldout']:.3f} / random-weights {report['mss_random']:.3f} = "
              f"{report['mss_ratio']:.3f}  (bar <= {report['bar']['mss_ratio']})")
    elif report["mss_heldout"] is not None:
        print(f"MSS held-out {report['mss_heldout']:.3f}  (no --random model: ratio not judged)")
    print(f"RTF {report['rtf']:.4f} on one thread at {report['block']}-sample blocks  (bar <= {report['bar']['rtf']})")
    if report["yin_truth_agreement"] is not None:
        print(f"YIN on the pitched input agrees with the synth's f0 on "
              f"{100 * report['yin_truth_agreement']:.1f} % of its frames (how far the pitch figures hold)")
    print()
    for name, ok in report["passes"].items():
        word = {True: "met", False: "MISSED", None: "not judged"}[ok]
        print(f"{'bar ' + name:<14} {word}")
    for note in report["notes"]:
        print(f"note: {note}")


def write_plots(directory: Path, outputs: dict, rate: int, model_name: str, bends: list[tuple[str, str]]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plots needs matplotlib: pip install matplotlib") from None
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    n_fft, hop = 2048, 512
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    suffix = "_bent" if bends else ""
    subtitle = ("bends: " + ", ".join(f"{a}={v}" for a, v in bends)) if bends else "no bends"
    for name, (inp, out) in outputs.items():
        specs = [20 * np.log10(stft_magnitude(x, n_fft, hop).T + 1e-9) for x in (inp, out)]
        top = max(float(specs[0].max()), -40.0)
        times = np.arange(specs[0].shape[1]) * hop / rate
        fig, axes = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, sharey=True, constrained_layout=True)
        for ax, spec, label in zip(axes, specs, ("input", "output")):
            mesh = ax.pcolormesh(times, freqs[1:], spec[1:], vmin=top - 90, vmax=top, cmap="magma", shading="auto")
            ax.set_yscale("log")
            ax.set_ylim(40, rate / 2)
            ax.set_ylabel("Hz")
            ax.set_title(f"{name}: {label}")
        axes[1].set_xlabel("seconds")
        fig.colorbar(mesh, ax=axes, label="dB")
        fig.suptitle(f"{model_name} ({subtitle})")
        path = directory / f"{name}{suffix}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=None,
                        help="an nn~ export or an embedded model's name (default: models/default.ts)")
    parser.add_argument("--random", type=Path, default=None, metavar="MODEL",
                        help="a random-weights export of the same architecture: the MSS reference")
    parser.add_argument("--heldout-seed", type=int, default=HELDOUT_SEED, help="seed of the held-out audio")
    parser.add_argument("--heldout-seconds", type=float, default=20.0)
    parser.add_argument("--pitched", type=int, default=4, metavar="COUNT", help="held-out pitched segments")
    parser.add_argument("--pitched-seconds", type=float, default=4.0)
    parser.add_argument("--probe-seconds", type=float, default=6.0)
    parser.add_argument("--probes-only", action="store_true", help="judge the probe signals alone (no held-out)")
    parser.add_argument("--block", type=int, default=None,
                        help="model block in samples (default: the model's own: its ratio when small, else 2048)")
    parser.add_argument("--max-lag", type=int, default=8192,
                        help="alignment searches the output's delay up to this many samples past the model's "
                             "measured first response (default %(default)s)")
    parser.add_argument("--bend", action="append", type=_bend, default=[], metavar="ADDRESS=VALUE",
                        help="set a bend first (repeatable), as `performer render --bend`")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--plots", type=Path, default=None, metavar="DIR", help="write spectrogram PNGs here")
    args = parser.parse_args()

    from performer.train.probes import PROBES

    try:
        model = load_model(args.model)
        random_model = load_model(args.random) if args.random else default_random_reference(model)
    except PerformerError as exc:
        raise SystemExit(f"error: {exc}") from None
    rig = None
    if args.bend:
        from performer.rig import Rig

        rig = Rig(model)
        try:
            for address, value in args.bend:
                rig.set(address, value, source="cli")
        except PerformerError as exc:
            raise SystemExit(f"error: --bend: {exc}") from None
    heldout, pitched = (None, None) if args.probes_only else heldout_material(
        args.heldout_seed, args.heldout_seconds, args.pitched, args.pitched_seconds, model.sample_rate)
    probes = {name: fn(seconds=args.probe_seconds) for name, fn in PROBES.items()}
    outputs: dict | None = {} if args.plots else None
    report = evaluate(model, heldout, pitched, random_model, probes=probes, block=args.block, rig=rig,
                      max_lag=args.max_lag, outputs=outputs)
    report["bends"] = [f"{a}={v}" for a, v in args.bend]
    report["heldout_seed"] = None if args.probes_only else args.heldout_seed
    if args.plots:
        report["plots"] = [str(p) for p in write_plots(args.plots, outputs, model.sample_rate, model.path.name,
                                                       args.bend)]
    if args.json:
        print(json.dumps(finite_or_none(report), indent=1))
        return 0
    print_table(report, args.bend)
    for path in report.get("plots", []):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
