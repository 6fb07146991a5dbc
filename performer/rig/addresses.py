"""The address space: plain strings shared by MIDI, OSC, the web API and scenes.

  <tensor>/<slot>/<field>   tensor by name (decoder.net.2.weight) or model position (#3);
                            field: transform, amount, percent, mode, seed, bypass, or a
                            parameter of the slot's transform (factor, sigma, ...)
  <tensor>/reset            clear that tensor's chain
  bends/reset               clear every chain
  latent/<i>/offset|scale   latent bends (encode, bend, decode)
  mix, input/gain, output/gain, bypass, record
  select/tensor|next|prev   which tensor a bank of knobs edits (value: index or name | steps)
  selected[+k]/<slot>/<field>  the selected tensor (or the k-th after it), resolved at set time
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from performer.errors import AddressError

from performer.bending.chain import SLOT_FIELDS_TYPES as SLOT_FIELDS
LATENT_FIELDS = ("offset", "scale")
# name: (min, max, default, unit)
GLOBALS: dict[str, tuple[float, float, float, str]] = {
    "mix": (0.0, 1.0, 1.0, "dry 0 .. wet 1"),
    "input/gain": (-60.0, 24.0, 0.0, "dB"),
    "output/gain": (-60.0, 12.0, 0.0, "dB"),
    "bypass": (0.0, 1.0, 0.0, "0 model, 1 dry"),
    "record": (0.0, 1.0, 0.0, "1 records to a WAV (live server)"),
}
RESET_ALL = "bends/reset"
SELECT = ("select/tensor", "select/next", "select/prev")
SELECTED = re.compile(r"^selected(?:\+(\d+))?(/.*)$")


@dataclass(frozen=True)
class Address:
    kind: str  # slot | tensor_reset | reset_all | latent | global | select
    tensor: int | None = None
    slot: int | None = None
    field: str | None = None
    latent: int | None = None


def _index(text: str, limit: int, what: str, address: str) -> int:
    if not text.isdigit():
        raise AddressError(f"{address!r}: {what} must be a number 0..{limit - 1}, got {text!r}")
    value = int(text)
    if value >= limit:
        raise AddressError(f"{address!r}: {what} must be in range 0..{limit - 1}, got {value}")
    return value


def parse(address: object, tensor_index: dict[str, int], tensor_count: int, latent_size: int | None,
          max_slots: int) -> Address:
    """Parse an address against one model; errors name what is valid."""
    if not isinstance(address, str) or not address:
        raise AddressError(f"address must be a non-empty string, got {address!r}")
    if address in GLOBALS:
        return Address("global", field=address)
    if address == RESET_ALL:
        return Address("reset_all")
    if address in SELECT:
        return Address("select", field=address.split("/")[1])
    parts = address.split("/")
    if parts[0] == "latent":
        if latent_size is None:
            raise AddressError(f"{address!r}: this model has no encode/decode methods, so no latent bends")
        if len(parts) != 3 or parts[2] not in LATENT_FIELDS:
            raise AddressError(f"{address!r}: latent addresses are latent/<0..{latent_size - 1}>/offset|scale")
        return Address("latent", latent=_index(parts[1], latent_size, "latent index", address), field=parts[2])
    tensor = _tensor(parts[0], tensor_index, tensor_count, address)
    if len(parts) == 2 and parts[1] == "reset":
        return Address("tensor_reset", tensor=tensor)
    if len(parts) != 3:
        raise AddressError(
            f"{address!r}: expected <tensor>/<slot>/<field>, <tensor>/reset, latent/<i>/offset|scale, "
            f"{RESET_ALL} or one of: {', '.join(GLOBALS)}")
    slot = _index(parts[1], max_slots, "slot", address)
    if not parts[2]:
        raise AddressError(f"{address!r}: missing field; fields: {', '.join(SLOT_FIELDS)} or a transform parameter")
    return Address("slot", tensor=tensor, slot=slot, field=parts[2])


def _tensor(text: str, tensor_index: dict[str, int], count: int, address: str) -> int:
    if text.startswith("#"):
        return _index(text[1:], count, "tensor position", address)
    if text in tensor_index:
        return tensor_index[text]
    close = [n for n in tensor_index if text in n or n.startswith(text.rsplit(".", 1)[0])][:5]
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise AddressError(
        f"{address!r}: no tensor named {text!r} in this model (list them with `performer layers MODEL`, "
        f"or use #0..#{count - 1}){hint}")
