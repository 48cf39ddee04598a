"""The tiny FLUX.1 family: FLUX.1's real classes and layout, tiny configs, seeded random weights.

:func:`build_flux` writes, laid out as the real repositories are:

- ``flux/`` — a ``FluxPipeline`` folder (``black-forest-labs/FLUX.1-dev``): a guidance-distilled
  ``FluxTransformer2DModel``, CLIP-L's text model (pooled prompt) and T5 v1.1's encoder (sequence prompt) with their
  tokenizers, a VAE without quant convs (FLUX's ``shift_factor`` and ``scaling_factor``) and the dynamically
  shifted flow-matching Euler scheduler;
- ``controlnet-flux-union/`` — a ``FluxControlNetModel`` laid out as
  ``Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro-2.0``: double blocks only, no mode embedding (used as a plain
  ControlNet for every type) and no ``input_hint_block`` (the pipeline VAE-encodes the control image);
- ``flux-ip-adapter/ip_adapter.safetensors`` — the image-prompt adapter in ``XLabs-AI/flux-ip-adapter``'s layout, read
  with the tiny fit-scoring CLIP's vision half as its encoder (the real one reads ``openai/clip-vit-large-patch14``);
- ``flux-redux/`` — a ``FluxPriorReduxPipeline`` folder (``black-forest-labs/FLUX.1-Redux-dev``): SigLIP's vision
  tower, its image processor and the ``ReduxImageEncoder`` that turns its patch tokens into tokens of T5's width;
- ``taef1/`` — the live-preview decoder for FLUX latents (``madebyollin/taef1``).

The ``flux`` profile holds FLUX.1-dev's real sizes (about 17 B parameters in the pipeline and 2.1 B in the ControlNet,
stored in bfloat16 as the Hub's are) for benchmarks that build it on demand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from app.tiny.common import build_tokenizer
from app.tiny.parts import seeded
from app.tiny.scorers import PROJECTION_DIM

FLUX_PROFILES: dict[str, dict[str, Any]] = {
    "tiny": {
        "clip_hidden": 16,
        "clip_layers": 2,
        "clip_heads": 2,
        "clip_vocab": None,  # None: the tokenizer's own size
        "t5_d_model": 32,
        "t5_d_kv": 8,
        "t5_d_ff": 64,
        "t5_layers": 2,
        "t5_heads": 4,
        "t5_vocab": None,
        "layers": 1,
        "single_layers": 1,
        "head_dim": 16,
        "heads": 2,
        "axes_dims_rope": (4, 6, 6),  # sums to head_dim: RoPE splits each head over (text, row, column) ids
        "vae_channels": (4, 8, 8, 8),  # four levels: vae_scale_factor 8, as FLUX's
        "vae_layers": 1,
        "latent_channels": 4,
        "norm_groups": 4,
        "controlnet_layers": 1,
        "controlnet_single_layers": 0,  # Union-Pro-2.0 has double blocks only: the transformer gets no single samples
        "taef1_channels": (8, 8, 8, 8),
        "taef1_blocks": (1, 1, 1, 1),
        "vision_projection": PROJECTION_DIM,  # the tiny fit-scoring CLIP's, which the IP-Adapter reads
        "siglip_hidden": 16,
        "siglip_intermediate": 32,
        "siglip_layers": 1,
        "siglip_heads": 2,
        "siglip_image": 384,  # 27×27 patches: 729 Redux tokens beside 512 T5 ones, as for real
        "siglip_patch": 14,
        "redux_gain": 4.0,
        "dtype": "float32",
    },
    # black-forest-labs/FLUX.1-dev's sizes: 11.9 B parameters in the transformer, 4.7 B in T5-XXL, 123 M in CLIP-L,
    # 84 M in the VAE (16.9 B in the pipeline), and Union-Pro-2.0's 6 double blocks (2.1 B) in the ControlNet.
    "flux": {
        "clip_hidden": 768,
        "clip_layers": 12,
        "clip_heads": 12,
        "clip_vocab": 49408,  # the real embedding sizes, though the byte-level tokenizer uses fewer rows
        "t5_d_model": 4096,
        "t5_d_kv": 64,
        "t5_d_ff": 10240,
        "t5_layers": 24,
        "t5_heads": 64,
        "t5_vocab": 32128,
        "layers": 19,
        "single_layers": 38,
        "head_dim": 128,
        "heads": 24,
        "axes_dims_rope": (16, 56, 56),
        "vae_channels": (128, 256, 512, 512),
        "vae_layers": 2,
        "latent_channels": 16,
        "norm_groups": 32,
        "controlnet_layers": 6,
        "controlnet_single_layers": 0,
        "taef1_channels": (64, 64, 64, 64),  # madebyollin/taef1's own sizes
        "taef1_blocks": (3, 3, 3, 1),
        "vision_projection": 768,  # CLIP ViT-L/14's
        # FLUX.1-Redux-dev's SigLIP (google/siglip-so400m-patch14-384's vision tower): 27×27 = 729 tokens.
        "siglip_hidden": 1152,
        "siglip_intermediate": 4304,
        "siglip_layers": 27,
        "siglip_heads": 16,
        "siglip_image": 384,
        "siglip_patch": 14,
        "redux_gain": 1.0,
        "dtype": "bfloat16",  # as the Hub stores FLUX.1-dev and its ControlNet; also halves the build's memory
    },
}

T5_MAX_LENGTH = 512
"""FLUX.1-dev's T5 sequence length (``max_sequence_length``), the tokenizer's ``model_max_length``."""


def build_flux(root: Path, profile: str = "tiny", seed: int = 0) -> None:
    """Write the FLUX.1 family under ``root``: ``flux/``, ``controlnet-flux-union/``, ``flux-ip-adapter/``,
    ``flux-redux/`` and ``taef1/``.

    Args:
        root: The family folder; created if missing.
        profile: ``tiny`` (a few MB, a few seconds) or ``flux`` (FLUX.1-dev's sizes, random weights).
        seed: Seed for every random weight; the same seed writes byte-identical files.
    """
    p = FLUX_PROFILES[profile]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    transformer = _write_pipeline(root / "flux", p, seed)
    _write_controlnet(root / "controlnet-flux-union", transformer, p, seed + 10)
    _write_ip_adapter(root / "flux-ip-adapter" / "ip_adapter.safetensors", transformer, p, seed + 20)
    del transformer
    _write_taef1(root / "taef1", p, seed + 30)
    _write_redux(root / "flux-redux", p, seed + 40)


def build_t5_tokenizer():
    """T5 v1.1's tokenizer shape without its SentencePiece file: a Unigram vocabulary (``<pad>`` 0, ``</s>`` 1,
    ``<unk>`` 2, then single characters alone and word-initial, then 100 sentinels in reverse as T5's), which
    transformers' ``T5Tokenizer`` wraps in T5's own Metaspace pre-tokenizer and ``</s>``-appending post-processor.
    Saved as ``tokenizer.json``, so it loads back without ``spiece.model``."""
    from transformers import T5Tokenizer

    extra_ids = 100
    chars = [chr(code) for code in (*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("ÿ") + 1))]
    # Word-initial pieces score above a bare "▁" plus a character, so "a photo" splits as ▁a ▁p h o t o
    vocab: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(piece, score) for char in chars for piece, score in ((char, -3.0), ("▁" + char, -2.5))]
    vocab += [(f"<extra_id_{index}>", 0.0) for index in reversed(range(extra_ids))]
    return T5Tokenizer(vocab=vocab, extra_ids=extra_ids, model_max_length=T5_MAX_LENGTH)


def _write_pipeline(folder: Path, p: dict[str, Any], seed: int):
    """The FLUX.1 pipeline written to ``folder`` through diffusers' own ``save_pretrained``; returns the transformer
    (the ControlNet copies its embedders and first blocks)."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    dtype = getattr(torch, p["dtype"])
    tokenizer = build_tokenizer()
    tokenizer_2 = build_t5_tokenizer()
    seeded(seed)
    transformer = FluxTransformer2DModel(  # each component cast as built: the real-size build holds one in float32
        patch_size=1,
        in_channels=4 * p["latent_channels"],  # latents are packed 2x2 into tokens
        num_layers=p["layers"],
        num_single_layers=p["single_layers"],
        attention_head_dim=p["head_dim"],
        num_attention_heads=p["heads"],
        joint_attention_dim=p["t5_d_model"],
        pooled_projection_dim=p["clip_hidden"],
        guidance_embeds=True,  # FLUX.1-dev is guidance-distilled: guidance_scale is an input, not CFG
        axes_dims_rope=p["axes_dims_rope"],
    )
    transformer = _cast(transformer, dtype)
    seeded(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * len(p["vae_channels"]),
        up_block_types=("UpDecoderBlock2D",) * len(p["vae_channels"]),
        block_out_channels=p["vae_channels"],
        layers_per_block=p["vae_layers"],
        latent_channels=p["latent_channels"],
        norm_num_groups=p["norm_groups"],
        sample_size=1024,
        scaling_factor=0.3611,  # FLUX's VAE: latents are (z - shift) * scale
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )
    vae = _cast(vae, dtype)
    seeded(seed + 2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=max(len(tokenizer), p["clip_vocab"] or 0),
            hidden_size=p["clip_hidden"],
            intermediate_size=p["clip_hidden"] * 4,
            num_hidden_layers=p["clip_layers"],
            num_attention_heads=p["clip_heads"],
            max_position_embeddings=77,
            projection_dim=p["clip_hidden"],
            hidden_act="quick_gelu",  # CLIP-L's
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    text_encoder = _cast(text_encoder, dtype)
    seeded(seed + 3)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=max(len(tokenizer_2), p["t5_vocab"] or 0),
            d_model=p["t5_d_model"],
            d_kv=p["t5_d_kv"],
            d_ff=p["t5_d_ff"],
            num_layers=p["t5_layers"],
            num_heads=p["t5_heads"],
            feed_forward_proj="gated-gelu",  # T5 v1.1 (google/t5-v1_1-xxl), FLUX's text_encoder_2
            tie_word_embeddings=False,
            pad_token_id=0,
            eos_token_id=1,
        )
    )
    text_encoder_2 = _cast(text_encoder_2, dtype)
    scheduler = FlowMatchEulerDiscreteScheduler(  # FLUX.1-dev's: the shift grows with the image's token count
        num_train_timesteps=1000,
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
        image_encoder=None,
        feature_extractor=None,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    del pipe, vae, text_encoder, text_encoder_2
    return transformer


def _cast(model, dtype: torch.dtype):
    """``model`` in ``dtype``; float32 models are left alone (diffusers warns on every ``to(dtype)``)."""
    return model if dtype == torch.float32 else model.to(dtype)


def _write_controlnet(folder: Path, transformer, p: dict[str, Any], seed: int) -> None:
    """The Union-Pro-2.0-layout ControlNet: the transformer's sizes, its embedders and first blocks copied (as
    ``FluxControlNetModel.from_transformer`` does), and seeded output projections instead of zeros so that control
    visibly changes the image."""
    from diffusers import FluxControlNetModel

    config = transformer.config
    seeded(seed)
    controlnet = FluxControlNetModel(  # the constructor, so config.json holds exactly the real keys
        patch_size=config.patch_size,
        in_channels=config.in_channels,
        num_layers=p["controlnet_layers"],
        num_single_layers=p["controlnet_single_layers"],
        attention_head_dim=config.attention_head_dim,
        num_attention_heads=config.num_attention_heads,
        joint_attention_dim=config.joint_attention_dim,
        pooled_projection_dim=config.pooled_projection_dim,
        guidance_embeds=config.guidance_embeds,
        axes_dims_rope=list(config.axes_dims_rope),
        num_mode=None,  # no mode embedding: Union-Pro-2.0 is used as a plain ControlNet
        conditioning_embedding_channels=None,  # no input_hint_block: the control image is VAE-encoded and packed
    )
    controlnet = _cast(controlnet, transformer.dtype)
    for name in ("pos_embed", "time_text_embed", "context_embedder", "x_embedder"):
        getattr(controlnet, name).load_state_dict(getattr(transformer, name).state_dict())
    # strict=False: the ControlNet has fewer blocks than the transformer, and takes the first ones
    controlnet.transformer_blocks.load_state_dict(transformer.transformer_blocks.state_dict(), strict=False)
    controlnet.single_transformer_blocks.load_state_dict(
        transformer.single_transformer_blocks.state_dict(), strict=False
    )
    _randomise_projections(controlnet, seed)
    controlnet.save_pretrained(folder, safe_serialization=True)


def _randomise_projections(controlnet, seed: int) -> None:
    """FLUX ControlNets start with zeroed linear projections (into the network and out to every block); give them
    small seeded weights, as :func:`app.tiny.parts.randomise_zero_convs` does for SD ControlNets."""
    generator = torch.Generator().manual_seed(seed)
    modules = [*controlnet.controlnet_blocks, *controlnet.controlnet_single_blocks, controlnet.controlnet_x_embedder]
    with torch.no_grad():
        for module in modules:
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.05)
            module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.01)


def _write_ip_adapter(path: Path, transformer, p: dict[str, Any], seed: int) -> None:
    """An IP-Adapter weight file in ``XLabs-AI/flux-ip-adapter``'s key layout, as diffusers' ``load_ip_adapter``
    converts it: ``ip_adapter_proj_model.*`` (one CLIP image embedding to four tokens of the T5 width) and, per double
    block, ``double_blocks.<i>.processor.ip_adapter_double_stream_{k,v}_proj.{weight,bias}``. Its image encoder is
    CLIP ViT-L/14's vision half (``openai/clip-vit-large-patch14``, the fit scorers' CLIP): ``vision_projection``."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    dtype = getattr(torch, p["dtype"])

    def rand(*shape: int, std: float = 0.05) -> torch.Tensor:
        return (torch.randn(shape, generator=generator) * std).to(dtype)

    config, tokens = transformer.config, 4
    width, inner = config.joint_attention_dim, config.num_attention_heads * config.attention_head_dim
    tensors = {
        "ip_adapter_proj_model.proj.weight": rand(width * tokens, p["vision_projection"]),
        "ip_adapter_proj_model.proj.bias": rand(width * tokens),
        "ip_adapter_proj_model.norm.weight": torch.ones(width, dtype=dtype),
        "ip_adapter_proj_model.norm.bias": torch.zeros(width, dtype=dtype),
    }
    for block in range(config.num_layers):
        for part in ("k", "v"):
            name = f"double_blocks.{block}.processor.ip_adapter_double_stream_{part}_proj"
            tensors[f"{name}.weight"], tensors[f"{name}.bias"] = rand(inner, width), rand(inner, std=0.01)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))


def _write_taef1(folder: Path, p: dict[str, Any], seed: int) -> None:
    """A TAEF1-layout ``AutoencoderTiny``: FLUX's latent channels, and scaling 1.0 / shift 0.0 because it decodes the
    pipeline's already normalised latents directly (as ``madebyollin/taef1`` does)."""
    from diffusers import AutoencoderTiny

    seeded(seed)
    AutoencoderTiny(
        encoder_block_out_channels=p["taef1_channels"],
        decoder_block_out_channels=p["taef1_channels"],
        num_encoder_blocks=tuple(reversed(p["taef1_blocks"])),
        num_decoder_blocks=p["taef1_blocks"],
        latent_channels=p["latent_channels"],
        scaling_factor=1.0,
        shift_factor=0.0,
    ).save_pretrained(folder, safe_serialization=True)  # float32 in both profiles, as madebyollin/taef1 ships


def _write_redux(folder: Path, p: dict[str, Any], seed: int) -> None:
    """A ``FluxPriorReduxPipeline`` folder as ``black-forest-labs/FLUX.1-Redux-dev`` lays it out: ``image_encoder/``
    (``SiglipVisionModel``), ``feature_extractor/`` (``SiglipImageProcessor``: square resize, SigLIP's 0.5 mean and
    deviation) and ``image_embedder/`` (``ReduxImageEncoder``: SigLIP width up to 3× T5's, then down to T5's)."""
    from diffusers import FluxPriorReduxPipeline
    from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    dtype = getattr(torch, p["dtype"])
    seeded(seed)
    encoder = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=p["siglip_hidden"],
            intermediate_size=p["siglip_intermediate"],
            num_hidden_layers=p["siglip_layers"],
            num_attention_heads=p["siglip_heads"],
            image_size=p["siglip_image"],
            patch_size=p["siglip_patch"],
            hidden_act="gelu_pytorch_tanh",
            layer_norm_eps=1e-6,
        )
    )
    embedder = ReduxImageEncoder(redux_dim=p["siglip_hidden"], txt_in_features=p["t5_d_model"])
    with torch.no_grad():  # tokens as loud as real Redux's, which outweigh the prompt (PyTorch's init is far quieter)
        embedder.redux_down.weight.mul_(p["redux_gain"])
    size = p["siglip_image"]
    processor = SiglipImageProcessor(
        size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3, resample=3
    )
    prior = FluxPriorReduxPipeline(
        image_encoder=_cast(encoder, dtype), feature_extractor=processor, image_embedder=_cast(embedder, dtype)
    )
    prior.save_pretrained(folder, safe_serialization=True)
    index = folder / "model_index.json"  # the published index names the three parts only, not the unused encoders
    components = json.loads(index.read_text())
    index.write_text(json.dumps({k: v for k, v in components.items() if v != [None, None]}, indent=2) + "\n")


__all__ = ["FLUX_PROFILES", "build_flux"]
