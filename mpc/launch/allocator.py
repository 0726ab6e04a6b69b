"""The C heap of a party or dealer process: keep large freed buffers for the next operation.

Why. Every protocol step allocates a few arrays of the operands' size (the masked values that
are sent, the received buffer, the result) and frees them when the step ends. glibc serves an
allocation above its mmap threshold (128 KiB at start, raised dynamically to the largest block
freed so far) with a fresh ``mmap`` and returns it with ``munmap`` on free, and it gives the top
of the heap back to the kernel once more than the trim threshold is free there. Either way the
next step's arrays arrive as untouched pages, and the kernel zeroes each one on its first write:
a Beaver product of 10^6 elements took ~1,200-1,700 minor page faults per party and spent about a
third of its local time in them (measured over ``mpcrun`` on 2 cores: masking 5 ms and combine
6 ms, against 1.8 ms and 2.0 ms for the same kernels on warm buffers). The received frames are
allocated by ZeroMQ's I/O thread and freed from another, which defeats the dynamic threshold.

What. :func:`tune_allocator` sets, once per process, through ``mallopt``:

- ``M_MMAP_THRESHOLD`` = 32 MiB, glibc's largest (half of a heap's maximum size on 64-bit):
  blocks below it come from the heap and are reused after a free. Setting it also stops the
  dynamic adjustment. Blocks of 32 MiB and more (4M ring elements) are still mapped and
  unmapped each time;
- ``M_TRIM_THRESHOLD`` = -1, which mallopt(3) documents as no trimming at all: the heap keeps
  the freed memory at its top instead of returning it to the kernel. At 512 MiB (until
  2026-12-07) a step that had just freed more than that at the top gave it back and the next
  steps faulted it in again: spdz2k's ``x < y`` on 10^5 elements (750-1,000 MB per party, the
  bit MACs' arrays) went 997 -> 581 MB resident at its 13th step and back
  (``mpcrun -n 2 --engine spdz2k tests/scripts/heap_steps.py 100000 16`` prints a party's
  resident memory after each step), and its online times were bimodal. Suite ``compare``, 9
  rounds, 2 parties, plaintext loopback, the Zen 4 VM (``python -m bench compare --engines
  semi2k,spdz2k --parties 2 --peers none --repeats 9``): spdz2k's W3 median 53.2 ms (43.0-74.3)
  and W4 56.7 ms (38.6-69.7) at 65cfc6f, 41.4 ms (34.2-47.8) and 38.4 ms (33.3-46.5) never
  trimmed (e89b8a7); semi2k's, whose heap stays small, within the noise (W3 6.7 and 8.1 ms, W4
  7.0 and 7.1 ms);
- ``M_TOP_PAD`` = 64 MiB: the heap grows in large steps, so fewer ``brk`` calls.

The cost is resident memory: the process keeps its heap's high-water mark until it exits (a
party process runs one script; its peak is what its largest step needed, which it reached
anyway); the gain, measured: W1 (10^6 products, 2 parties over loopback) 20-24 ms -> 14-15 ms
online, with no page faults left in the step.

It is a process setting, so only the launcher calls it, for the one party (or dealer) of the
process (:func:`mpc.launch.run.run_party`, ``python -m mpc dealer``), never :class:`Party`,
which must stay free of process-global effects (several parties can share a process in tests).
``malloc="system"`` (``MPC_MALLOC=system``, ``mpcrun --malloc system``) leaves glibc's defaults.
Elsewhere than Linux with glibc it does nothing (other allocators have no such knobs).
"""

from __future__ import annotations

import ctypes
import platform
import sys

from mpc.config.session import MALLOC_MODES
from mpc.errors import ConfigError

# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc refuses more (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = -1  # never trim (mallopt(3)); an int, so mallopt takes it as is
TOP_PAD = 64 << 20

SETTINGS = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))


def has_glibc_mallopt() -> bool:
    """Whether this process runs on glibc (the only allocator these settings mean anything to)."""
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def tune_allocator(mode: str = "tuned") -> bool:
    """Apply the settings of the module docstring; True when every ``mallopt`` call succeeded.

    ``mode`` "system" changes nothing (returns False); so does a platform without glibc."""
    if mode not in MALLOC_MODES:
        raise ConfigError(f"malloc: expected one of {', '.join(MALLOC_MODES)}, got {mode!r}")
    if mode == "system" or not has_glibc_mallopt():
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)
