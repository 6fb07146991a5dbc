"""The Show a bench runs: built from a `performer serve` command line by the CLI's own parser."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def build_show(argv: list[str], data_dir: Path):
    """``performer serve ARGV`` as a Show (not started). Autosave, bending log and learned
    mappings go to ``data_dir``, so a bench never touches the user's own."""
    from performer.cli import build_parser
    from performer.model import load_model
    from performer.show import Show
    from performer.show.cli import report_line, show_options

    os.environ["XDG_DATA_HOME"] = str(data_dir / "data")
    os.environ["XDG_CONFIG_HOME"] = str(data_dir / "config")
    args = build_parser().parse_args(["serve", *argv])
    return Show(load_model(args.model), show_options(args, report_line), report=report_line)


def jack_env(jack) -> None:
    """This process and its children talk to ``jack`` (a tests.jack_server.JackServer)."""
    os.environ.update(jack.env())
    os.environ["MIDO_BACKEND"] = "mido.backends.rtmidi/UNIX_JACK"


def serve_argv(model: str | None, data_dir: Path, *extra: str) -> list[str]:
    """A `performer serve` command line with everything a performer runs on: scenes (fresh, in
    ``data_dir``), JACK MIDI, OSC and the dashboard on free ports; no status line on the console."""
    return [*([model] if model else []), "--scenes", str(data_dir / "scenes"), "--fresh", "--midi-api", "jack",
            "--osc-port", "0", "--web-port", "0", "--status-interval", "0", *extra]


@contextmanager
def realtime_jack(rate: int, period: int):
    """(jack, data_dir): a realtime JACK dummy server this process talks to, and a scratch folder
    for the show's data; both gone afterwards."""
    from tests.jack_server import JackServer

    jack = JackServer(rate=rate, period=period).start()
    jack_env(jack)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            yield jack, Path(tmp)
    finally:
        jack.stop()
