"""Conditioning Studio: compare how text, ControlNet and IP-Adapter condition Stable Diffusion."""

__version__ = "0.1.0"
