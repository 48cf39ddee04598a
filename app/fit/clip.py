"""One shared CLIP model for the prompt and reference scorers: loaded lazily, once, thread-safe.

The model comes from configuration only (:class:`ScorerSources`): a Hub id or a
local folder, read as safetensors, never with remote code. Embeddings are
cached by content (prompt text, image pixel hash), so scoring N results
against one prompt and one reference encodes each of those once.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.engine.placement import CPU, Placement
from app.errors import ModelLoadError, offline_hint
from app.images import content_hash

# ViT-L/14 ships model.safetensors on its main branch (ViT-B/32 only has .bin/.h5/msgpack there) and is the
# CLIP that CLIP-T and CLIP-I are reported with in the IP-Adapter paper.
DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"
# Embeddings kept per kind (texts, images): a comparison needs one prompt, one
# reference and a handful of outputs; a few hundred 512-float vectors are ~1 MB.
EMBEDDING_CACHE_SIZE = 256

HOW_TO_GO_OFFLINE = offline_hint("set STUDIO_CLIP_MODEL to a local folder holding a CLIPModel (safetensors)")


@dataclass(frozen=True)
class ScorerSources:
    """Where the fit scorers' CLIP model comes from.

    Attributes:
        clip: Hub id or local folder of a ``CLIPModel`` with its tokenizer and image processor.
        revision: Optional Hub revision (None: default branch).
        local_files_only: Never contact the Hub; use cached or local files only.
        label: A short name for messages (``real``, ``tiny`` or ``local``).
    """

    clip: str = DEFAULT_CLIP_MODEL
    revision: str | None = None
    local_files_only: bool = False
    label: str = "real"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ScorerSources:
        """Sources from ``STUDIO_CLIP_MODEL`` (Hub id or folder).

        ``HF_HUB_OFFLINE`` needs no handling here: huggingface_hub honours it for every load.

        Args:
            environ: Mapping to read instead of ``os.environ`` (tests).
        """
        env = os.environ if environ is None else environ
        clip = env.get("STUDIO_CLIP_MODEL", "").strip() or DEFAULT_CLIP_MODEL
        return cls(clip=clip, label="local" if Path(clip).is_dir() else "real")

    def from_pretrained_kwargs(self, weights: bool) -> dict[str, Any]:
        """Keyword arguments for ``from_pretrained``: safetensors only for weights, never remote code."""
        kwargs: dict[str, Any] = {"trust_remote_code": False}
        if weights:
            kwargs["use_safetensors"] = True
        if not Path(self.clip).is_dir():
            if self.revision:
                kwargs["revision"] = self.revision
            if self.local_files_only:
                kwargs["local_files_only"] = True
        return kwargs


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    image_processor: Any


class ClipEmbedder:
    """Normalised CLIP text and image embeddings with content-keyed caches.

    Args:
        sources: Where the model comes from (default: the environment).
        cache_size: Embeddings kept per kind (texts, images).
        placement: Where the model runs (default: CPU, float32).
    """

    def __init__(
        self,
        sources: ScorerSources | None = None,
        cache_size: int = EMBEDDING_CACHE_SIZE,
        placement: Placement = CPU,
    ) -> None:
        self.sources = sources if sources is not None else ScorerSources.from_env()
        self.placement = placement
        self.cache_size = cache_size
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()
        # One lock for the caches and the forward passes: CPU inference gains
        # nothing from overlapping calls, and it keeps the caches consistent.
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        self._images: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = {"texts": 0, "images": 0}  # forward passes run, for tests and benchmarks

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._loaded is not None

    def load(self) -> _Loaded:
        """Load the model, tokenizer and image processor once (thread-safe).

        Raises:
            ModelLoadError: Naming the model and how to run offline.
        """
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> _Loaded:
        source = self.sources.clip
        try:
            from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

            model = CLIPModel.from_pretrained(source, **self.sources.from_pretrained_kwargs(weights=True))
            tokenizer = CLIPTokenizer.from_pretrained(source, **self.sources.from_pretrained_kwargs(weights=False))
            processor = CLIPImageProcessor.from_pretrained(source, **self.sources.from_pretrained_kwargs(weights=False))
        except Exception as exc:  # any loader failure becomes one clear message
            raise ModelLoadError(
                f"could not load the CLIP scoring model {source!r} ({type(exc).__name__}: {str(exc)[:300]}). "
                f"{HOW_TO_GO_OFFLINE}"
            ) from exc
        return _Loaded(self.placement.place(model).eval(), tokenizer, processor)

    def text_embedding(self, text: str) -> np.ndarray:
        """The unit-length CLIP embedding of ``text`` (truncated to the model's token limit)."""
        with self._lock:
            hit = _cached(self._texts, text)
            if hit is not None:
                return hit
            import torch

            loaded = self.load()
            tokens = loaded.tokenizer(
                [text], padding=True, truncation=True, max_length=loaded.tokenizer.model_max_length, return_tensors="pt"
            ).to(self.placement.device)
            with torch.inference_mode():
                features = _pooled(loaded.model.get_text_features(**tokens))
            self.encoded["texts"] += 1
            return _store(self._texts, text, _unit(features), self.cache_size)

    def image_embedding(self, image: Image.Image) -> np.ndarray:
        """The unit-length CLIP embedding of an image (keyed by its pixels)."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        key = content_hash(rgb)
        with self._lock:
            hit = _cached(self._images, key)
            if hit is not None:
                return hit
            import torch

            loaded = self.load()
            pixels = self.placement.inputs(loaded.image_processor(images=[rgb], return_tensors="pt"))
            with torch.inference_mode():
                features = _pooled(loaded.model.get_image_features(pixel_values=pixels["pixel_values"]))
            self.encoded["images"] += 1
            return _store(self._images, key, _unit(features), self.cache_size)

    def text_image_similarity(self, text: str, image: Image.Image) -> float:
        """Cosine similarity of the CLIP embeddings of ``text`` and ``image`` (−1…1)."""
        return float(np.dot(self.text_embedding(text), self.image_embedding(image)))

    def image_image_similarity(self, first: Image.Image, second: Image.Image) -> float:
        """Cosine similarity of the CLIP embeddings of two images (−1…1; 1 for identical pixels)."""
        return float(np.dot(self.image_embedding(first), self.image_embedding(second)))

    def clear(self) -> None:
        """Drop cached embeddings (the model stays loaded)."""
        with self._lock:
            self._texts.clear()
            self._images.clear()


def _pooled(output: Any) -> Any:
    # transformers 5 returns a model output whose pooler_output is the projected
    # embedding; older versions returned the tensor itself.
    return output.pooler_output if hasattr(output, "pooler_output") else output


def _unit(features: Any) -> np.ndarray:
    vector = features[0].detach().float().cpu().numpy().astype(np.float64)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _cached(cache: OrderedDict[str, np.ndarray], key: str) -> np.ndarray | None:
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
    return hit


def _store(cache: OrderedDict[str, np.ndarray], key: str, value: np.ndarray, size: int) -> np.ndarray:
    value.setflags(write=False)  # shared between callers: nobody may alter a cached vector
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
    return value


_clip: ClipEmbedder | None = None
_clip_lock = threading.Lock()


def get_clip() -> ClipEmbedder:
    """The process-wide CLIP embedder (created on first use with sources from the environment)."""
    global _clip
    with _clip_lock:
        if _clip is None:
            _clip = ClipEmbedder()
        return _clip


def set_clip(embedder: ClipEmbedder | None) -> None:
    """Replace the process-wide embedder, e.g. with one on the tiny family; None resets it."""
    global _clip
    with _clip_lock:
        _clip = embedder
