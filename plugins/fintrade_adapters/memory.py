"""Peak memory of a block of code: how much resident memory (and CUDA memory) it added at most.

``tracemalloc`` sees only Python's allocator, not torch's tensors, so the process's resident
set is measured instead. On Linux the kernel keeps the peak itself (``VmHWM`` in
``/proc/self/status``) and writing ``5`` to ``/proc/self/clear_refs`` resets it to the current
size: an exact peak with nothing to miss between samples. Elsewhere a background thread samples
the resident set with psutil every few milliseconds (a spike shorter than that can be missed).
Without either, the peak is the process's lifetime maximum (``ru_maxrss``), not an increase.

Before measuring, garbage is collected and glibc is asked to hand freed heap back to the system
(``malloc_trim``): memory kept from an earlier run would otherwise hide part of the next one's.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
SAMPLE_SECONDS = 0.005


@dataclass
class MemoryPeak:
    """The result: bytes added at the peak over the start, and how that was measured."""

    peak_increase_bytes: int = 0
    baseline_bytes: int = 0
    method: str = ""
    cuda_peak_bytes: int | None = None


def _status_kib(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_kernel_peak() -> bool:
    """Reset VmHWM to the current resident size; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    hwm, rss = _status_kib("VmHWM"), _status_kib("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 1024


def release_free_memory() -> None:
    """Collect garbage and return freed heap pages to the system (glibc), before a measurement."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class PeakMemoryMeter:
    """``with PeakMemoryMeter() as meter: ...`` then ``meter.result`` (a :class:`MemoryPeak`)."""

    def __init__(self) -> None:
        self.result = MemoryPeak()
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._peak = 0
        self._cuda_start = 0

    def __enter__(self) -> PeakMemoryMeter:
        release_free_memory()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            self._cuda_start = int(torch.cuda.memory_allocated())
        if _reset_kernel_peak():
            self.result.method = "VmHWM"
            self.result.baseline_bytes = int(_status_kib("VmRSS") or 0) * 1024
            return self
        process = _psutil_process()
        if process is not None:
            self.result.method = "psutil sampling"
            self.result.baseline_bytes = self._peak = int(process.memory_info().rss)
            self._sampler = threading.Thread(target=self._sample, args=(process,), daemon=True)
            self._sampler.start()
            return self
        self.result.method = "ru_maxrss (lifetime peak, not an increase)"
        return self

    def _sample(self, process: Any) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, int(process.memory_info().rss))
            time.sleep(SAMPLE_SECONDS)

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        result = self.result
        if result.method == "VmHWM":
            peak = int(_status_kib("VmHWM") or 0) * 1024
            result.peak_increase_bytes = max(0, peak - result.baseline_bytes)
        elif self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            result.peak_increase_bytes = max(0, self._peak - result.baseline_bytes)
        else:
            import resource

            scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
            result.peak_increase_bytes = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            result.cuda_peak_bytes = max(0, int(torch.cuda.max_memory_allocated()) - self._cuda_start)


def _psutil_process() -> Any:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process()
