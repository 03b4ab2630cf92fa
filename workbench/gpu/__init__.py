"""GPU support, imported lazily: device discovery, CUDA-event timing, NVTX ranges."""

from ._device import detect_device

__all__ = ["detect_device"]
