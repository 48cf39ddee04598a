"""Opt-in ``torch.compile`` of the denoising networks, region by region (``STUDIO_COMPILE=1``).

The studio calls one shared UNet in many ways: with or without ControlNet residuals, with the IP-Adapter's
attention processors attached or not, one item or a batch of methods. A whole-model graph would recompile (or
fall back to eager) whenever that changes. Compiling only the transformer blocks that repeat through the UNet and
the ControlNets (diffusers' "regional compilation", ``ModelMixin.compile_repeated_blocks``) keeps one small graph
that every method reuses, compiles in seconds rather than minutes, and leaves the calls around it untouched.
"""

from __future__ import annotations

import torch

REPEATED_BLOCKS = ("BasicTransformerBlock",)
"""The blocks compiled where a model does not name its own (diffusers' choice for the SD1.5 UNet; ControlNets
carry the same blocks but name none)."""


def compile_regions(model: torch.nn.Module) -> int:
    """Compile, in place, every repeated block of ``model`` with ``torch.compile``; returns how many.

    The model object stays the same (pipelines derived with ``from_pipe`` keep sharing it); its weights, dtype and
    device are unchanged.
    """
    names = tuple(getattr(model, "_repeated_blocks", None) or REPEATED_BLOCKS)
    blocks = [module for module in model.modules() if type(module).__name__ in names]
    for block in blocks:
        block.compile()
    return len(blocks)


def compiled_blocks(model: torch.nn.Module) -> int:
    """How many of ``model``'s blocks run compiled."""
    return sum(getattr(module, "_compiled_call_impl", None) is not None for module in model.modules())
