"""A second Ableton Link peer for the sync tests, in its own process (aalink, as Tidal's or
SuperCollider's would be). Prints JSON lines: {"t": monotonic s, "beat": b, "tempo": bpm,
"peers": n} every ``--every`` seconds; reads commands on stdin: ``tempo X``, ``quit``."""

import argparse
import asyncio
import json
import sys
import time

import aalink


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--every", type=float, default=0.05)
    args = parser.parse_args()
    link = aalink.Link(args.bpm)
    link.quantum = 4
    link.enabled = True
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue = asyncio.Queue()
    loop.add_reader(sys.stdin.fileno(), lambda: commands.put_nowait(sys.stdin.readline()))
    while True:
        while not commands.empty():
            line = commands.get_nowait().split()
            if not line or line[0] == "quit":
                link.enabled = False
                return
            if line[0] == "tempo":
                link.tempo = float(line[1])
        t = time.monotonic()
        beat = link.beat
        print(json.dumps({"t": t, "beat": beat, "tempo": link.tempo, "peers": link.num_peers}), flush=True)
        await asyncio.sleep(args.every)


if __name__ == "__main__":
    asyncio.run(main())
