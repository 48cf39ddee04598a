"""Where an auxiliary model (a detector, the fit-scoring CLIP) runs: a device and a dtype.

The studio derives one :class:`Placement` from its settings (:func:`app.engine.devices.aux_placement`):
the diffusion models' device and dtype, so maps and scores cost no CPU seconds on a GPU (or a
ZeroGPU Space), or CPU float32 when ``STUDIO_AUX_DEVICE=cpu``. This module does not import torch,
so the preprocessing package stays cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    """A device (``cpu``, ``cuda``, ``mps``) and a dtype name (``float32``, ``float16``, ``bfloat16``)."""

    device: str = "cpu"
    dtype: str = "float32"

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def place(self, module: Any) -> Any:
        """Move a module (or anything with ``.to``) here and return it."""
        return module.to(device=self.device, dtype=self.torch_dtype)

    def inputs(self, batch: Any) -> Any:
        """Move model inputs here: floating tensors also take the dtype, integer ones (token ids) keep theirs."""
        if hasattr(batch, "is_floating_point"):  # a single tensor
            return batch.to(device=self.device, dtype=self.torch_dtype if batch.is_floating_point() else batch.dtype)
        return batch.to(device=self.device, dtype=self.torch_dtype)  # transformers' BatchFeature casts floats only


CPU = Placement()
"""Where auxiliary models run unless told otherwise."""
