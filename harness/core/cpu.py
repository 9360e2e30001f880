"""What this machine's CPU is, and whether it has bf16 arithmetic in hardware.

On a CPU, ``--precision bf16`` is fast only where oneDNN has bf16 instructions to run: AMX tiles
(Sapphire Rapids and later) or AVX512-BF16 (Cooper Lake and later). Elsewhere PyTorch still runs
bf16, by converting to fp32 around every operation, which is slower than fp32 itself. The harness
never picks bf16 by itself; it says so when a user asks for it on a CPU without those units.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# /proc/cpuinfo flag -> the name Intel's documentation gives the unit.
BF16_UNITS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}


@dataclass(frozen=True)
class Cpu:
    model: str
    bf16_units: tuple[str, ...] | None  # None: unknown (no /proc/cpuinfo: not Linux)

    @property
    def bf16(self) -> str:
        """The bf16 hardware in words, for a report's header."""
        if self.bf16_units is None:
            return "bf16 hardware unknown"
        return f"bf16 in hardware ({', '.join(self.bf16_units)})" if self.bf16_units else "no bf16 hardware"

    def bf16_warning(self) -> str | None:
        """The warning a bf16 run on this CPU deserves, if any."""
        if self.bf16_units != ():
            return None
        return (f"warning: this CPU ({self.model}) has no bf16 hardware (neither AMX-BF16 nor AVX512-BF16): "
                f"bf16 is emulated through fp32 and runs slower than --precision fp32")


def parse_cpuinfo(text: str) -> Cpu:
    """The model and bf16 units of the first processor in ``/proc/cpuinfo``'s text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    model = fields.get("model name") or platform.processor() or platform.machine()
    return Cpu(model, tuple(name for flag, name in BF16_UNITS.items() if flag in flags))


def this_cpu() -> Cpu:
    if CPUINFO.exists():
        return parse_cpuinfo(CPUINFO.read_text(errors="replace"))
    return Cpu(platform.processor() or platform.machine(), None)


def bf16_warning_for(device_type: str, precisions: list[str]) -> str | None:
    """The warning a command owes before it runs bf16 on this machine's CPU, if any."""
    if device_type != "cpu" or "bf16" not in precisions:
        return None
    return this_cpu().bf16_warning()
