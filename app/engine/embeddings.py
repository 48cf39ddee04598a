"""Prompt and reference embeddings, encoded once and reused across the methods, seeds and runs that share them.

A comparison encodes its prompt once for every method and seed, and its reference once for every IP-Adapter
(or Redux) method; a repeated run with a new seed encodes nothing. Keys name the family, so unloading a family drops its
embeddings (:meth:`EmbeddingCache.drop_family`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import torch
from PIL import Image

from app.images import content_hash

FLUX_MAX_SEQUENCE = 512
"""T5 tokens FLUX.1 [dev] reads (diffusers' default and the length it was trained with)."""

CACHE_SIZE = 16
"""Embeddings kept (least recently used goes): a few prompts and references per family."""


class EmbeddingCache:
    """A bounded LRU of embeddings by (family, what, content). Call its methods under the pipeline cache's lock.

    An ``OrderedDict``, as each of the studio's caches (families, ControlNets, CLIP embeddings): ``functools.lru_cache``
    cannot drop a family's entries or hand an evicted model back for its memory to be freed, and a dependency for a
    three-line eviction is not worth it.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple]:
        return iter(list(self._items))

    def clear(self) -> None:
        self._items.clear()

    def drop_family(self, family: str) -> None:
        """Forget a family's embeddings (its models were unloaded)."""
        for key in [k for k in self._items if k[0] == family]:
            del self._items[key]

    def prompt(self, cache: Any, request: Any, device: str) -> tuple[tuple, list[str]]:
        """The prompt embeddings of ``request`` on ``cache``'s base pipeline as ``(positive, negative, *pooled)``
        (SDXL's and FLUX's include pooled ones; a distilled-guidance family has no negative ones), and a note when
        the prompt is empty or an encoder reads only part of it."""
        if cache.family.distilled_guidance:
            return self._distilled_prompt(cache, request, device)
        guided = request.guidance_scale > 1.0
        base = cache.base()
        notes = []
        if not request.prompt.strip():  # runs, as in A1111: said, so an empty box is not mistaken for a prompt
            notes.append("The prompt is empty: the image follows only the negative prompt and any conditioning.")
        tokens = len(base.tokenizer(request.prompt, truncation=False).input_ids)
        if tokens > base.tokenizer.model_max_length:
            notes.append(
                f"The prompt is {tokens} tokens long; CLIP reads only the first "
                f"{base.tokenizer.model_max_length}, so the rest was ignored."
            )
        embeds = self._get(
            (request.family, "prompt", request.prompt, request.negative_prompt, guided),
            lambda: base.encode_prompt(
                prompt=request.prompt,
                device=device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=guided,
                negative_prompt=request.negative_prompt or None,
            ),
        )
        return embeds, notes

    def _distilled_prompt(self, cache: Any, request: Any, device: str) -> tuple[tuple, list[str]]:
        """FLUX's embeddings: T5's tokens and CLIP's pooled vector, with no negative ones (its guidance is an input
        of the transformer, not a second pass)."""
        base = cache.base()
        notes = []
        if not request.prompt.strip():
            notes.append("The prompt is empty: the image follows only the conditioning.")
        if request.negative_prompt.strip():
            notes.append(f"{cache.family.short} takes no negative prompt (its guidance is distilled): it was not used.")
        tokens = len(base.tokenizer_2(request.prompt, truncation=False).input_ids)
        if tokens > FLUX_MAX_SEQUENCE:
            notes.append(f"The prompt is {tokens} T5 tokens long; FLUX reads the first {FLUX_MAX_SEQUENCE}.")
        positive, pooled, _ = self._get(
            (request.family, "prompt", request.prompt),
            lambda: base.encode_prompt(
                prompt=request.prompt,
                prompt_2=None,
                device=device,
                num_images_per_prompt=1,
                max_sequence_length=FLUX_MAX_SEQUENCE,
            ),
        )
        return (positive, None, pooled, None), notes

    def reference(self, cache: Any, pipe: Any, reference: Image.Image, request: Any, device: str) -> list:
        """The IP-Adapter image embeddings of ``reference`` (the IP-Adapter attached to ``pipe``)."""
        if cache.family.distilled_guidance:  # FLUX: no unconditional half
            return self._get(
                (cache.family.name, "reference", content_hash(reference)),
                lambda: pipe.prepare_ip_adapter_image_embeds(reference, None, device, 1),
            )
        guided = request.guidance_scale > 1.0
        return self._get(
            (cache.family.name, "reference", content_hash(reference), guided),
            lambda: pipe.prepare_ip_adapter_image_embeds(reference, None, device, 1, guided),
        )

    def redux(self, cache: Any, reference: Image.Image) -> Any:
        """FLUX.1 Redux's tokens for ``reference`` (unscaled: one encoding serves every scale)."""
        return self._get((cache.family.name, "redux", content_hash(reference)), lambda: cache.redux_tokens(reference))

    def _get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        with torch.inference_mode():
            value = compute()
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value
