"""Read a blend source's tensors in a child process: ``python -m performer.bending.blend_child SRC OUT``.

Reading a TorchScript file holds Python's lock for hundreds of ms (187 ms for a RAVE v2 export
here), which would stall a live show's model thread. The child reads it at idle priority and
writes the bendable tensors with ``torch.save``; the server loads that (``weights_only``) in
about 20 ms, with 6 ms at most away from its other threads. Prints the file's sha256; on a bad
file, the loader's message on stderr and exit status 2.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    source, out = argv
    os.nice(19)
    import torch

    torch.set_num_threads(1)
    from performer.errors import PerformerError
    from performer.model.loader import load_model
    from performer.model.tensors import bendable_tensors

    try:
        model = load_model(source)
    except PerformerError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    torch.save({name: t.detach().contiguous() for name, t, _ in bendable_tensors(model.module)}, out)
    print(model.sha256)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
