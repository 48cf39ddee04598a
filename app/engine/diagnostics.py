"""What a pipeline cache holds, for checks (dtype and device invariants, sharing) and the GPU check."""

from __future__ import annotations

import torch


class CacheDiagnostics:
    """The read-only inspection half of :class:`~app.engine.pipelines.PipelineCache`."""

    def resident_modules(self) -> dict[str, torch.nn.Module]:
        """Every loaded module by role (shared ones once), e.g. to check they keep the configured dtype."""
        with self.lock:
            modules: dict[str, torch.nn.Module] = {}
            if self._base is not None:
                for name in (self.family.denoiser, "vae", "text_encoder", "text_encoder_2", "image_encoder"):
                    module = getattr(self._base, name, None)
                    if module is not None:
                        modules[name] = module
            for control_type, model in self._controlnets.items():
                modules[f"controlnet_{control_type}"] = model
            if self._preview_decoder is not None:
                modules["preview_vae"] = self._preview_decoder.vae
            if self._ip_parts is not None:
                modules["ip_adapter_projection"] = self._ip_parts.projection
                modules["ip_adapter_attention"] = torch.nn.ModuleList(
                    p for p in self._ip_parts.processors.values() if isinstance(p, torch.nn.Module)
                )
            if self._redux is not None:  # FLUX.1 Redux's SigLIP and embedder
                modules["redux_image_encoder"] = self._redux.image_encoder
                modules["redux_embedder"] = self._redux.image_embedder
            return modules

    def misplaced(self) -> list[str]:
        """Every resident floating-point tensor not in the configured dtype or on the configured device type.

        Empty after any sequence of methods: dtype and device are invariants of the cache. With low-VRAM
        offload the device type checked is the CPU, where offloaded modules wait between calls.
        """
        device = torch.device("cpu" if self.settings.low_vram else self.device).type
        wrong = []
        for name, module in self.resident_modules().items():
            expected = torch.device(self.device).type if name == "preview_vae" else device  # never offloaded
            for tensor_name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                if tensor.is_floating_point() and tensor.dtype != self.dtype:
                    wrong.append(f"{name}.{tensor_name}: {tensor.dtype}, configured {self.dtype}")
                if tensor.device.type != expected:
                    wrong.append(f"{name}.{tensor_name}: on {tensor.device}, configured {expected}")
        return wrong

    def resident_parameters(self) -> dict[str, int]:
        """Parameter counts of everything loaded, each module counted once however often it is shared."""
        seen: set[int] = set()
        counts = {}
        for name, module in self.resident_modules().items():
            fresh = [p for p in module.parameters() if id(p) not in seen]
            seen.update(id(p) for p in fresh)
            counts[name] = sum(p.numel() for p in fresh)
        return counts
