"""Weights-only loading of annotator checkpoints.

controlnet-aux's own loaders call torch's loader on the path without
``weights_only``, which is weights-only on torch >= 2.6 only until an operator
sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``. The studio therefore reads every
``.pth``/``.pt`` itself with ``weights_only=True`` stated explicitly (no
pickle code can run) and hands the state dict to the model classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.errors import ModelLoadError


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint as a flat ``name -> tensor`` dict without executing pickled code.

    Args:
        path: A ``.safetensors`` file, or a ``.pth``/``.pt`` file readable by torch's weights-only unpickler.

    Returns:
        The state dict, unwrapped from a ``{"model": ...}`` or ``{"state_dict": ...}`` training checkpoint and
        without the ``module.`` prefix that saving from ``DataParallel`` puts on every name (NormalBae's
        ``scannet.pt`` and PiDiNet's ``table5_pidinet.pth`` are both).

    Raises:
        ModelLoadError: The file holds anything but tensors and plain containers.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        data = torch.serialization.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # an unpickling refusal must read as a load failure
        raise ModelLoadError(
            f"{path.name} could not be read as plain weights ({type(exc).__name__}: {str(exc)[:200]}); "
            "only tensor checkpoints are accepted."
        ) from exc
    for wrapper in ("model", "state_dict"):  # training checkpoints: NormalBae's {"model"}, PiDiNet's {"state_dict"}
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path.name} holds a {type(data).__name__}, not a state dict of tensors.")
    if data and all(isinstance(k, str) and k.startswith("module.") for k in data):
        data = {k.removeprefix("module."): v for k, v in data.items()}
    return data


def materialise(module: nn.Module, state_dict: dict[str, torch.Tensor], name: str) -> nn.Module:
    """Load ``state_dict`` into a module built on the meta device, taking the tensors as they are.

    Building on ``meta`` and loading with ``assign=True`` skips the random
    initialisation of weights that are overwritten anyway (seconds for
    100 M-parameter annotators).

    Args:
        module: A module constructed under ``torch.device("meta")``.
        state_dict: Its complete weights.
        name: What is being loaded, for messages.

    Returns:
        The module in eval mode, every tensor on the CPU.
    """
    tensors = {k: v.contiguous() for k, v in state_dict.items()}
    missing, unexpected = module.load_state_dict(tensors, strict=False, assign=True)
    left = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if missing or unexpected or left:
        raise ModelLoadError(
            f"{name}: the weights do not match the model (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}, unset {left[:5]})."
        )
    return module.eval()


class _Float32AtBoundary(nn.Module):
    """A network run in its own dtype for callers that pass and expect float32 tensors."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.dtype = next(net.parameters()).dtype

    def forward(self, x: torch.Tensor) -> Any:
        return _as_float(self.net(x.to(self.dtype)))


def _as_float(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.float()
    if isinstance(value, (list, tuple)):
        return type(value)(_as_float(v) for v in value)
    return value


def float32_at_boundary(net: nn.Module) -> nn.Module:
    """Wrap ``net`` (placed in any dtype) so float32 inputs are cast to its dtype and its outputs back to float32.

    controlnet-aux's OpenPose code builds float32 inputs and reads outputs with ``.numpy()``; the wrapper
    lets the network itself run in half precision on a GPU without changing that code.
    """
    return net if next(net.parameters()).dtype == torch.float32 else _Float32AtBoundary(net)
