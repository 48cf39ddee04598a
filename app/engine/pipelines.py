"""One process-wide pipeline cache that serves every conditioning method.

One cache per model family (:mod:`app.engine.families`). The UNet (FLUX: transformer), VAE and text
encoder(s) load once into the family's base pipeline (``StableDiffusionPipeline``,
``StableDiffusionXLPipeline``, ``FluxPipeline``). Its ControlNet pipelines (per-type and, on SDXL, union
and T2I-Adapter) are derived from it with ``from_pipe`` (sharing those very modules); ControlNet
and T2I-Adapter models live in a bounded LRU and are attached to them per call. The IP-Adapter
loads once; its attention processors are attached to the shared UNet only for
the calls that use it, so text-only calls always run the original processors
and give the same pixels before and after any IP-Adapter call.

Everything that touches the models runs under :attr:`PipelineCache.lock`. The ControlNets' bounded LRU, the
IP-Adapter's, FLUX.1 Redux's and the T2I-Adapters' handling (:mod:`app.engine.controlnets`,
:mod:`app.engine.ip_adapter`, :mod:`app.engine.redux`, :mod:`app.engine.adapters`) and the read-only inspection
of what is resident (:mod:`app.engine.diagnostics`) are mixed in from their own modules.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch

from app.engine.adapters import AdapterHandling
from app.engine.compiling import compile_regions
from app.engine.controlnets import ControlNetHandling
from app.engine.devices import resolve_device
from app.engine.diagnostics import CacheDiagnostics
from app.engine.families import FAMILIES
from app.engine.ip_adapter import IPAdapterHandling, IPAdapterParts
from app.engine.loading import TINY_HINT
from app.engine.loading import load as _load
from app.engine.models import HALF_VARIANT, ModelSpec
from app.engine.previews import PreviewDecoder
from app.engine.redux import ReduxHandling
from app.engine.schedulers import family_scheduler
from app.errors import ModelLoadError, StudioError
from app.settings import Settings

logger = logging.getLogger(__name__)


SharedModules = weakref.WeakValueDictionary
"""Modules several caches may hold at once, by source (e.g. the ViT-H image encoder both IP-Adapters read); an
entry lives as long as some cache holds its module."""


class PipelineCache(ControlNetHandling, IPAdapterHandling, ReduxHandling, AdapterHandling, CacheDiagnostics):
    """Lazily loads and shares the diffusion components of one :class:`ModelSpec` (one model family).

    Args:
        spec: Where the family's weights come from.
        settings: Device, dtype, offload and cache sizes.
        lock: The lock its calls run under; caches of several families share one, as they share the device.
        shared: Modules shared with the other families' caches (see :data:`SharedModules`).
    """

    def __init__(
        self,
        spec: ModelSpec,
        settings: Settings,
        lock: threading.RLock | None = None,
        shared: SharedModules | None = None,
    ):
        self.spec = spec
        self.family = FAMILIES[spec.family]
        self.settings = settings
        self.device, self.dtype = resolve_device(settings)
        if self.dtype == torch.float16 and self.family.half_dtype:  # FLUX.1 runs in its own half precision
            self.dtype = getattr(torch, self.family.half_dtype)
        # One lock for loading and running: the components are shared, so only one call may use them.
        self.lock = lock or threading.RLock()
        self._shared = SharedModules() if shared is None else shared
        self._base = None
        self._derived: dict[str, Any] = {}  # the ControlNet pipelines derived from the base, by kind
        self._controlnets: OrderedDict[str, Any] = OrderedDict()
        self._plain_processors: dict[str, Any] | None = None
        self._ip_parts: IPAdapterParts | None = None
        self._redux = None  # FLUX.1 Redux's FluxPriorReduxPipeline, loaded on first use
        self._offloaded: dict[int, tuple] = {}
        self._preview_decoder: PreviewDecoder | None = None
        self.preview_error: str | None = None  # why previews are off, when their decoder could not load

    # -- loading ---------------------------------------------------------------------------------

    def _place(self, module) -> None:
        # Loaders put weights on the CPU; move them unless offloading manages placement.
        if not self.settings.low_vram and self.device != "cpu":
            module.to(self.device)
        if self.settings.channels_last:
            # cuDNN's half-precision convolutions run fastest on NHWC; the weights lead, activations follow.
            for part in (getattr(module, "unet", None), getattr(module, "vae", None), module):
                if isinstance(part, torch.nn.Module):
                    part.to(memory_format=torch.channels_last)
        if self.settings.torch_compile:
            for part in (getattr(module, "unet", None), module):
                if type(part).__name__ in ("UNet2DConditionModel", "ControlNetModel"):
                    compile_regions(part)

    def _half_variant_first(self, load: Callable[[str | None], Any]) -> Any:
        """Load the ``fp16`` weight files in half precision (half the download), the full ones otherwise.

        A source without fp16 files (a local folder, another repository) falls back to its full-precision
        files, cast on load; in float32 the full files are always read, never upcast half weights.
        """
        if self.dtype == torch.float32 or not self.family.half_variant:
            return load(None)
        try:
            return load(HALF_VARIANT)
        except (OSError, ValueError) as error:
            if HALF_VARIANT not in str(error):
                raise
            return load(None)

    def base(self):
        """The text-to-image pipeline holding the shared UNet, VAE and text encoder(s)."""
        with self.lock:
            if self._base is None:
                pipeline = self.family.pipeline_class("base")
                vae = self._half_vae()
                pipe = _load(
                    f"base {self.family.model_name} pipeline",
                    self.spec.base,
                    lambda: self._half_variant_first(
                        lambda variant: pipeline.from_pretrained(
                            self.spec.base,
                            revision=self.spec.revision,
                            variant=variant,
                            dtype=self.dtype,
                            use_safetensors=True,
                            **self.family.load_kwargs,
                            **({"vae": vae} if vae is not None else {}),
                        )
                    ),
                    licence=self.family.licence,
                )
                pipe.set_progress_bar_config(disable=True)
                self._place(pipe)
                self._plain_processors = dict(self.denoiser(pipe).attn_processors)
                self._base = pipe
            return self._base

    def denoiser(self, pipe=None):
        """The family's denoising network (SD's UNet, FLUX's transformer) in ``pipe`` (default: the base)."""
        return getattr(pipe if pipe is not None else self.base(), self.family.denoiser)

    def _half_vae(self):
        """The spec's float16 VAE (SDXL's own overflows in float16), or None: in other dtypes, or when it has none."""
        if self.spec.half_vae is None or self.dtype != torch.float16:
            return None
        from diffusers import AutoencoderKL

        return _load(
            "float16 VAE",
            self.spec.half_vae,
            lambda: AutoencoderKL.from_pretrained(self.spec.half_vae, dtype=self.dtype, use_safetensors=True),
        )

    def preload(self, control_types: Sequence[str], ip_adapter: bool) -> None:
        """Load the base pipeline, the ControlNets of ``control_types`` (the last ones the ControlNet cache holds;
        the union ControlNet where it serves a type) and, if asked, the IP-Adapter (and Redux, where the family has
        it)."""
        self.base()
        served = [t for t in control_types if t in self.spec.controlnets or self.served_by_union(t)]
        for control_type in served[-self.settings.controlnet_cache_size :]:
            self.controlnet(control_type)
        if ip_adapter:
            self.pipeline_for([], ip_adapter=True)
            if self.family.redux and self.spec.redux:
                self.redux()

    def preview_decoder(self) -> PreviewDecoder | None:
        """The live-preview decoder (TAESD), loaded on first use; None when previews are off or it cannot load.

        Previews are a convenience: a decoder that fails to load turns them off with the reason in
        :attr:`preview_error` and never fails a run. It is small (~10 MB), so it sits on the device even
        under low-VRAM offload, where it would otherwise cross the bus every preview.
        """
        with self.lock:
            if self._preview_decoder is not None or self.preview_error is not None:
                return self._preview_decoder
            if not self.settings.previews or not self.spec.preview_vae:
                return None
            from diffusers import AutoencoderTiny

            source = self.spec.preview_vae
            try:
                vae = _load(
                    "live-preview decoder",
                    source,
                    lambda: AutoencoderTiny.from_pretrained(source, dtype=self.dtype, use_safetensors=True),
                )
            except ModelLoadError as error:
                self.preview_error = str(error).split(". " + TINY_HINT)[0]
                logger.warning("live previews are off: %s", self.preview_error)
                return None
            self._preview_decoder = PreviewDecoder(vae.to(self.device).eval())
            return self._preview_decoder

    def scheduler(self, name: str) -> tuple[Any, list[str]]:
        """A fresh scheduler for sampler ``name`` on this family, and a note when the family samples its own way."""
        return family_scheduler(self.family, name, self.base().scheduler)

    # -- per call ----------------------------------------------------------------------------------

    def pipeline_for(self, control_types: list[str], ip_adapter: bool, adapter: bool = False):
        """The pipeline for a method, with its ControlNet(s) attached (or the union ControlNet, which serves all
        its types in one network; or, with ``adapter``, the types' T2I-Adapters). Call under :attr:`lock`."""
        if adapter:
            return self._adapter_pipeline(control_types, ip_adapter)

        union = [t for t in control_types if self.served_by_union(t)]
        if union and len(union) < len(control_types):
            raise StudioError(
                f"{' + '.join(control_types)}: on {self.family.label} the union ControlNet serves "
                f"{', '.join(union)} and cannot run beside a per-type ControlNet in one call; use one kind per method."
            )

        def attach():
            if union:
                return self._with_controlnet(self.controlnet(union[0]), "union")
            models = [self.controlnet(t) for t in control_types]
            multi = self.family.pipeline_class("multi_controlnet")
            return self._with_controlnet(models[0] if len(models) == 1 else multi(models))

        return self._pipeline(attach if control_types else None, ip_adapter, tuple(control_types))

    def pipeline_for_batch(self, control_types: list[str], users: list[list[int]], items: int, ip_adapter: bool):
        """The pipeline for a batch of ``items`` methods: each ControlNet steers only its ``users`` (batch items),
        a union ControlNet once per type in that type's mode.

        See :mod:`app.engine.batched`. Call under :attr:`lock`.
        """
        from app.engine.batched import PerItemControlNets, UnionMode
        from app.engine.flux_rows import PerItemFluxControlNets

        def attach():
            models = [
                UnionMode(self.controlnet(t), self.family.union_modes[t])
                if self.served_by_union(t)
                else self.controlnet(t)
                for t in control_types
            ]
            per_row = PerItemFluxControlNets if self.family.latent_control else PerItemControlNets
            return self._with_controlnet(per_row(models, users, items))

        offload_key = ("batch", *control_types, *map(tuple, users))
        return self._pipeline(attach if control_types else None, ip_adapter, offload_key)

    def _pipeline(self, attach: Callable[[], Any] | None, ip_adapter: bool, offload_key):
        """The base pipeline, or the ControlNet one ``attach`` returns, with the IP-Adapter loaded if asked."""
        base = self.base()
        if ip_adapter:
            self._ensure_ip_adapter()
        pipe = base if attach is None else attach()
        if self.settings.low_vram:
            self._offload(pipe, offload_key, ip_adapter)
        return pipe

    def _with_controlnet(self, controlnet, kind: str = "controlnet"):
        """The ControlNet (union, T2I-Adapter) pipeline, derived once from the base and sharing its modules, with
        ``controlnet`` attached (as its ``adapter`` for the ``adapter`` kind)."""
        base = self.base()
        slot = {"adapter" if kind == "adapter" else "controlnet": controlnet}
        if kind not in self._derived:  # dtype=: from_pipe would cast the shared modules to float32
            derive = self.family.pipeline_class(kind).from_pipe
            self._derived[kind] = derive(base, **slot, dtype=self.dtype)
            self._derived[kind].set_progress_bar_config(disable=True)
        pipe = self._derived[kind]
        pipe.register_modules(**slot, image_encoder=base.image_encoder, feature_extractor=base.feature_extractor)
        return pipe

    def _offload(self, pipe, control_types: tuple, ip_adapter: bool) -> None:
        # Offload hooks are bound to the modules present when they are installed,
        # so re-install them when the attached ControlNets or the IP-Adapter change.
        key = (control_types, ip_adapter)
        if self._offloaded.get(id(pipe)) != key:
            pipe.enable_model_cpu_offload(device=self.device)
            self._offloaded = {id(pipe): key}

    def parameter_bytes(self, pipe, ip_adapter: bool, redux: bool = False) -> int:
        """Bytes of the weights one method ran: base components, the ControlNets attached to ``pipe``, the
        IP-Adapter or Redux if used. Read from the pipeline that ran, so an evicted ControlNet is never reloaded to
        count it."""
        base = self.base()
        controlnet = getattr(pipe, "controlnet", None)
        controlnet = controlnet if controlnet is not None else getattr(pipe, "adapter", None)  # a T2I-Adapter pipeline
        alone = [controlnet] if controlnet is not None else []
        nets = list(getattr(controlnet, "nets", getattr(controlnet, "adapters", alone)))
        modules = [self.denoiser(base), base.vae, base.text_encoder, *nets]
        if getattr(base, "text_encoder_2", None) is not None:
            modules.append(base.text_encoder_2)
        if ip_adapter and self._ip_parts is not None:
            modules += [base.image_encoder, self._ip_parts.projection]
            modules += [p for p in self._ip_parts.processors.values() if isinstance(p, torch.nn.Module)]
        if redux:
            modules += self.redux_modules()
        seen: set[int] = set()
        total = 0
        for module in modules:
            for tensor in module.parameters():
                if id(tensor) not in seen:  # the attached IP processors are also inside the UNet
                    seen.add(id(tensor))
                    total += tensor.numel() * tensor.element_size()
        return total
