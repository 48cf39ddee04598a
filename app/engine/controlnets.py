"""The ControlNets of a family's pipeline cache: which network serves a control type, and the bounded LRU that
holds them (and the T2I-Adapters) on the device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.engine.loading import load as _load
from app.errors import StudioError


class ControlNetHandling:
    """The ControlNet part of :class:`~app.engine.pipelines.PipelineCache` (its spec, family, settings, dtype, lock,
    placement and ``_controlnets`` LRU come from there)."""

    def served_by_union(self, control_type: str) -> bool:
        """Whether the spec's union ControlNet serves ``control_type`` (it has no ControlNet of its own)."""
        return control_type not in self.spec.controlnets and self.spec.union is not None

    def controlnet(self, control_type: str):
        """The ControlNet model for ``control_type`` (the union ControlNet where it serves it), from a bounded LRU."""
        key = self._network_key(control_type)

        def load():
            import diffusers

            if key == "union":
                source, loader, what = self.spec.union, diffusers.ControlNetUnionModel, "union ControlNet"
            elif control_type in self.spec.controlnets:
                source, loader = self.spec.controlnets[control_type], self.family.pipeline_class("controlnet_model")
                what = f"{control_type} ControlNet"
            else:
                raise StudioError(
                    f"The {self.family.label} models serve no {control_type} control; this studio has "
                    f"{', '.join(self.spec.controlnets) or 'none'}."
                )
            return _load(
                what,
                source,
                lambda: self._half_variant_first(
                    lambda variant: loader.from_pretrained(
                        source, variant=variant, dtype=self.dtype, use_safetensors=True
                    )
                ),
            )

        return self._resident(key, load)

    def _network_key(self, control_type: str) -> str:
        """The ControlNet LRU's key for ``control_type``'s network: ``union`` for a union ControlNet, else the types
        its source serves joined by ``+`` (``canny``; FLUX's Union-Pro, named by four types, is loaded once as
        ``canny+pose+depth+softedge``)."""
        if self.served_by_union(control_type):
            return "union"
        source = self.spec.controlnets.get(control_type)
        return "+".join(t for t, own in self.spec.controlnets.items() if own == source) if source else control_type

    def _resident(self, key: str, load: Callable[[], Any]) -> Any:
        """The network under ``key`` in the bounded LRU ControlNets and T2I-Adapters share: loaded (``load``) and
        placed on first use, the least recently used one dropped past the cache's size."""
        with self.lock:
            if key in self._controlnets:
                self._controlnets.move_to_end(key)
                return self._controlnets[key]
            model = load()
            self._place(model)
            self._controlnets[key] = model
            while len(self._controlnets) > self.settings.controlnet_cache_size:
                self._controlnets.popitem(last=False)
            return model

    def loaded_controlnets(self) -> list[str]:
        """Control types whose ControlNet is resident (``union`` for a union ControlNet; each type a shared network
        serves by its own name), least recently used first."""
        return [name for key in self._controlnets for name in key.split("+")]
