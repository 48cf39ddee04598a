"""T2I-Adapters on a family's shared base: each type's adapter from the ControlNets' bounded LRU, attached to the
family's adapter pipeline (derived from the base with ``from_pipe``) for the calls that use it."""

from __future__ import annotations

from typing import Any

from app.engine.loading import load as _load
from app.errors import StudioError


class AdapterHandling:
    """The T2I-Adapter part of :class:`~app.engine.pipelines.PipelineCache` (its LRU, derived pipelines, spec, dtype
    and lock come from there)."""

    def adapter(self, control_type: str):
        """The T2I-Adapter for ``control_type``, from the ControlNets' bounded LRU (key ``t2i:<type>``).

        Read in full precision and cast: TencentARC's openpose adapter ships no ``fp16`` files, and one rule for all
        keeps the Space's preloaded files the ones read.
        """

        def load():
            source = self.spec.adapters.get(control_type)
            if source is None:
                raise StudioError(
                    f"The {self.family.label} models serve no {control_type} T2I-Adapter; this studio has "
                    f"{', '.join(self.spec.adapters) or 'none'}."
                )
            from diffusers import T2IAdapter

            return _load(
                f"{control_type} T2I-Adapter",
                source,
                lambda: T2IAdapter.from_pretrained(source, dtype=self.dtype, use_safetensors=True),
            )

        return self._resident(f"t2i:{control_type}", load)

    def _adapter_pipeline(self, control_types: list[str], ip_adapter: bool) -> Any:
        """The family's T2I-Adapter pipeline with the types' adapters attached (several as one ``MultiAdapter``)."""
        from diffusers import MultiAdapter

        def attach():
            models = [self.adapter(t) for t in control_types]
            return self._with_controlnet(models[0] if len(models) == 1 else MultiAdapter(models), "adapter")

        return self._pipeline(attach, ip_adapter, ("t2i", *control_types))
