"""``performer train``: train the default model's architecture, resume, and export for nn~."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train", help="train Performer's own RAVE-style model on synthesised audio (resumable)",
        description="Trains the default model's architecture in RUN (a folder): checkpoints every few "
                    "minutes, resumes from the newest when started again. With --export, writes an nn~ "
                    "export of a checkpoint instead (its output gain calibrated on held-out audio).")
    train.add_argument("run", help="run folder (created if missing; resumed if it has checkpoints)")
    train.add_argument("--minutes", type=float, default=None, help="train for this much wall time")
    train.add_argument("--steps", type=int, default=None, help="train until this total step count")
    train.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    train.add_argument("--seed", type=int, default=0, help="seed of data and weights (new runs only)")
    train.add_argument("--preset", choices=("studio", "live"), default=None,
                       help="architecture of a new run: studio (hop 1024, 44.1 kHz; models/studio.ts) or "
                            "live (hop 128, 48 kHz, no look-ahead; models/default.ts). Default studio; a "
                            "resumed run keeps its own")
    train.add_argument("--checkpoint-minutes", type=float, default=5.0, metavar="M",
                       help="minutes between checkpoints (default 5)")
    train.add_argument("--export", default=None, metavar="OUT.ts",
                       help="export a checkpoint as an nn~ .ts file instead of training")
    train.add_argument("--checkpoint", default="best", metavar="STEP|best|last",
                       help="with --export: which checkpoint (default best: chosen by the quality bar)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from performer.errors import TrainingError

    if args.threads is not None:
        if args.threads < 1:
            raise TrainingError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.export:
        from performer.train.release import export_checkpoint
        report = export_checkpoint(args.run, args.export, which=args.checkpoint)
        print(report)
        return 0
    if args.minutes is None and args.steps is None:
        raise TrainingError("say how long to train: --minutes M or --steps N")
    import signal

    from performer.train.trainer import Trainer, preset_config

    def stop(signum, frame):  # a kill or a closed terminal saves like Ctrl+C
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started in the background (SIGINT ignored)
    config = preset_config(args.preset or "studio", args.seed) if args.seed or args.preset else None
    trainer = Trainer(args.run, config)
    start = trainer.step
    print(f"train: {args.run} from step {start} ({trainer.elapsed / 60:.1f} min trained), "
          f"{torch.get_num_threads()} threads", file=sys.stderr)
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        total = args.steps - start if args.steps is not None else None
        bar = tqdm(total=total, unit="step", desc="train", file=sys.stderr, dynamic_ncols=True)

    def progress(figures: dict) -> None:
        bar.update(1)
        if figures["step"] % 10 == 0:
            bar.set_postfix(loss=f"{figures['distance']:.3f}", kl=f"{figures['kl']:.2f}")
    try:
        trainer.train(until_step=args.steps, minutes=args.minutes,
                      checkpoint_minutes=args.checkpoint_minutes, progress=None if bar is None else progress)
    except KeyboardInterrupt:
        trainer.save()
        print(f"\ntrain: stopped at step {trainer.step}, checkpoint saved", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"train: step {trainer.step}, {trainer.elapsed / 60:.1f} min trained; checkpoints in {args.run}",
          file=sys.stderr)
    return 0
