"""Recipes without a model: schema, round trips (JSON, share link, PNG), migration, hostile documents, A1111."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.errors import StudioError
from app.recipes import (
    MAX_DOCUMENT_BYTES,
    SCHEMA_VERSION,
    CompareSettings,
    GenerationSettings,
    Recipe,
    RecipeControl,
    RecipeIPAdapter,
    decode_share,
    encode_share,
    find_asset,
    list_assets,
    load_asset,
    load_presets,
    parse_recipe,
    png_with_recipe,
    recipe_from_compare,
    recipe_from_generation,
    recipe_from_png,
    recipe_notice,
    recipe_to_dict,
    recipe_to_json,
    share_token,
    share_url,
)
from app.recipes.a1111 import format_parameters
from app.recipes.png import read_text_chunks
from app.request import (
    CommonSettings,
    ControlSettings,
    ControlStrength,
    GenerationRequest,
    IPAdapterScale,
    field_bounds,
)
from app.request.compare import CompareRequest

TRICKY = recipe_from_generation(
    {
        "prompt": 'a "quoted", multi\nline prompt: with a/b, https://example.org and ünïcödé ✨',
        "negative_prompt": "Negative prompt: nested, Steps: 3",
        "seed": 2**32 - 1,
        "num_inference_steps": 7,
        "guidance_scale": 4.25,
        "width": 96,
        "height": 64,
        "scheduler": "euler_a",
        "num_images_per_prompt": 2,
        "controls": [
            {"control_type": "canny", "controlnet_conditioning_scale": 0.5, "control_guidance_end": 0.8},
            {"control_type": "depth", "control_guidance_start": 0.1},
        ],
        "ip_adapter": {"scale": 1.2, "mode": "layout"},
    },
    detectors={"depth": "midas"},
    detector_params={"canny": {"low_threshold": 10, "high_threshold": 90, "auto_threshold": False}},
    fit="pad",
    structure="coffee.png",
    reference="chelsea.png",
    title="Tricky — ünïcödé",
    description="Every field away from its default.",
)
COMPARE = recipe_from_compare(
    {
        "prompt": "a lighthouse",
        "seed": 9,
        "methods": ["text", "pose:openpose", "depth:midas+ip_adapter", "canny"],
        "detector_params": {"openpose": {"include_hand": True}},
        "ip_adapter": {"scale": 0.3, "mode": "style"},
    },
    structure="astronaut.png",
    reference="hubble_deep_field.jpg",
    title="compare",
)
TEXT = Recipe(mode="generate", generate={"prompt": "a cat"})
ROUND_TRIP = [TRICKY, COMPARE, TEXT, *load_presets().values()]


def minimal(**generate) -> dict:
    return {"schema_version": 1, "mode": "generate", "generate": {"prompt": "a cat", **generate}}


def refused(document, *fragments: str) -> str:
    with pytest.raises(StudioError) as caught:
        parse_recipe(document if isinstance(document, (str, bytes, dict)) else json.dumps(document))
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- schema ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipe_model", "request_model"),
    [
        (GenerationSettings, CommonSettings),
        (RecipeControl, ControlStrength),
        (RecipeIPAdapter, IPAdapterScale),
        (CompareSettings, CompareRequest),
    ],
)
def test_recipe_models_are_built_on_the_request_models(recipe_model, request_model):
    # Inheritance is the guarantee: every shared field is the request model's own, so its bounds cannot drift.
    assert issubclass(recipe_model, request_model)


@pytest.mark.parametrize(
    ("recipe_model", "request_model", "copies", "without_images"),
    [
        (GenerationSettings, GenerationRequest, {"num_images_per_prompt"}, {"controls", "ip_adapter"}),
        (RecipeControl, ControlSettings, {"control_type", "adapter"}, set()),
    ],
)
def test_fields_a_recipe_declares_itself_carry_the_request_bounds(recipe_model, request_model, copies, without_images):
    # A field declared again in the recipe model (not inherited) is either a copy, checked against the
    # original here, or the request's field re-typed to hold no image.
    own = {name for name in recipe_model.__annotations__ if name in request_model.model_fields}
    assert own == copies | without_images
    for name in copies:
        mine, theirs = recipe_model.model_fields[name], request_model.model_fields[name]
        assert (mine.annotation, mine.default) == (theirs.annotation, theirs.default), name
        assert mine.description == theirs.description, name
        if theirs.annotation is int:
            assert field_bounds(recipe_model, name) == field_bounds(request_model, name), name


def test_every_recipe_field_is_described():
    for model in (Recipe, GenerationSettings, CompareSettings, RecipeControl, RecipeIPAdapter):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"
    assert Recipe.model_config["extra"] == "forbid"
    assert json.dumps(Recipe.model_json_schema())  # publishable as a JSON Schema


def string_fields(schema: dict) -> set[str]:
    """Every place in a JSON schema that takes an open string (no enum, no const), as a dotted path.

    Walks ``$ref``, ``anyOf``, list ``items`` (``[]``) and dict values (``{}``), so ``str | None``, lists and
    dicts of strings are found as well as plain ``str`` fields.
    """
    defs, found, seen = schema.get("$defs", {}), set(), set()

    def walk(node: dict, path: tuple[str, ...]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if (name, path) not in seen:
                seen.add((name, path))
                walk(defs[name], path)
            return
        if node.get("type") == "string" and "enum" not in node and "const" not in node:
            found.add(".".join(path))
        for sub in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            walk(sub, path)
        if isinstance(node.get("items"), dict):
            walk(node["items"], (*path, "[]"))
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], (*path, "{}"))
        for key, value in node.get("properties", {}).items():
            walk(value, (*path, key))

    walk(schema, ())
    return found


FREE_TEXT = {
    "title",
    "description",
    "generate.prompt",
    "generate.negative_prompt",
    "compare.prompt",
    "compare.negative_prompt",
}
HOSTILE_NAMES = (
    "stabilityai/stable-diffusion-xl-base-1.0",
    "/etc/passwd",
    "https://example.com/x.safetensors",
    "../x.pth",
)


def with_hostile(path: str, value: str) -> dict:
    """A recipe that is valid except for ``value`` at the string place ``path``."""
    compare = {"prompt": "p", "methods": ["canny"]}
    documents = {
        "compare.methods.[]": {"mode": "compare", "compare": {**compare, "methods": [value]}},
        "compare.detectors.{}": {"mode": "compare", "compare": {**compare, "detectors": {"canny": value}}},
        "compare.detector_params.{}.{}": {
            "mode": "compare",
            "compare": {**compare, "detector_params": {"canny": {"low_threshold": value}}},
        },
        "generate.controls.[].detector": {
            "mode": "generate",
            "generate": {"prompt": "p", "controls": [{"control_type": "canny", "detector": value}]},
        },
        "images.structure": {
            "mode": "generate",
            "generate": {"prompt": "p", "controls": [{"control_type": "canny"}]},
            "images": {"structure": value},
        },
        "images.reference": {
            "mode": "generate",
            "generate": {"prompt": "p", "ip_adapter": {"scale": 0.5}},
            "images": {"reference": value},
        },
    }
    return documents[path]


def test_structural_guarantee_no_field_can_name_a_model_file_or_url():
    schema = Recipe.model_json_schema()
    for word in ("model_id", "repo", "path", "url", "file"):
        assert f'"{word}"' not in json.dumps(schema)
    # Every open string, wherever it sits (optional, in a list, a dict value), is free text for the tokenizer
    # and labels, or a name checked against a closed registry (methods, detectors, parameters, bundled photos).
    closed = string_fields(schema) - FREE_TEXT
    assert closed == {
        "compare.methods.[]",
        "compare.detectors.{}",
        "compare.detector_params.{}.{}",
        "generate.controls.[].detector",
        "images.structure",
        "images.reference",
    }
    benign = {
        "compare.methods.[]": "depth",
        "compare.detectors.{}": "canny",
        "generate.controls.[].detector": "canny",
        "images.structure": "astronaut.png",
        "images.reference": "chelsea.png",
    }
    for path, value in benign.items():  # the documents are valid but for the value put in
        assert parse_recipe(json.dumps(with_hostile(path, value)))
    for path in sorted(closed):
        for value in HOSTILE_NAMES:
            with pytest.raises(StudioError, match="Invalid recipe"):
                parse_recipe(json.dumps(with_hostile(path, value)))
    # A detector-parameter key is a detector name: a model name there is refused as well.
    hostile_key = {
        "mode": "compare",
        "compare": {"prompt": "p", "methods": ["canny"], "detector_params": {"org/m": {}}},
    }
    with pytest.raises(StudioError, match="Invalid recipe"):
        parse_recipe(json.dumps(hostile_key))


def test_recipe_modes_and_tabs_are_consistent():
    assert TRICKY.ui_tab == "controlnet" and TEXT.ui_tab == "text" and COMPARE.ui_tab == "compare"
    assert TRICKY.method == "canny+depth:midas+ip_adapter"
    for document, fragment in [
        ({"mode": "generate"}, "needs a 'generate' section"),
        ({"mode": "compare", "compare": {}, "generate": {}}, "takes no 'generate' section"),
        ({"mode": "generate", "tab": "controlnet", "generate": {}}, "needs at least one entry"),
        ({"mode": "generate", "tab": "text", "generate": {"ip_adapter": {}}}, "tab 'text' takes no"),
        ({"mode": "generate", "generate": {}, "images": {"structure": "coffee.png"}}, "takes no structure photo"),
    ]:
        refused(document, fragment)


# -- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ROUND_TRIP, ids=lambda r: r.title or r.method)
def test_json_round_trip(recipe):
    text = recipe_to_json(recipe)
    assert parse_recipe(text) == recipe
    assert parse_recipe(json.loads(text)) == recipe  # e.g. from browser storage


@pytest.mark.parametrize("recipe", ROUND_TRIP, ids=lambda r: r.title or r.method)
def test_share_url_round_trip(recipe):
    url = share_url("https://studio.example/?__theme=dark&recipe=old", recipe)
    assert url.startswith("https://studio.example/?__theme=dark&recipe=")
    token = share_token(url)
    assert decode_share(token) == recipe
    assert share_token({"recipe": token}) == token
    assert len(token) < 1200  # compact: defaults omitted, compressed


@pytest.mark.parametrize("recipe", ROUND_TRIP, ids=lambda r: r.title or r.method)
def test_png_round_trip(recipe):
    data = png_with_recipe(Image.new("RGB", (64, 48), (10, 20, 30)), recipe, seed=recipe.settings.seed + 1)
    restored, message = recipe_from_png(data)
    assert restored == recipe
    assert "Restored the recipe" in message
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    chunks = read_text_chunks(data)
    parameters = chunks["parameters"]
    assert parameters.startswith(recipe.settings.prompt)
    assert f"Seed: {recipe.settings.seed + 1}," in parameters
    assert f"Size: {recipe.settings.width}x{recipe.settings.height}" in parameters


def test_png_from_a_decoded_image_with_its_info():
    data = png_with_recipe(Image.new("RGB", (64, 64)), TRICKY)
    assert recipe_from_png(Image.open(io.BytesIO(data)))[0] == TRICKY


def test_share_token_omits_defaults():
    assert json.loads(zlib.decompress(base64.urlsafe_b64decode(encode_share(TEXT) + "=="))) == {
        "schema_version": SCHEMA_VERSION,
        "mode": "generate",
        "generate": {"prompt": "a cat"},
    }


# -- migration -------------------------------------------------------------------------------------------


def test_version_0_flat_request_settings_are_migrated():
    request = GenerationRequest(
        prompt="old", seed=5, controls=[{"control_type": "depth", "controlnet_conditioning_scale": 0.7}]
    )
    recipe = parse_recipe(request.settings_dict())  # what Result.settings holds
    assert recipe.schema_version == SCHEMA_VERSION and recipe.mode == "generate"
    assert recipe.generate.prompt == "old" and recipe.generate.seed == 5
    assert recipe.generate.controls[0].controlnet_conditioning_scale == 0.7
    assert recipe.generate.controls[0].resolved_detector == "depth_anything"
    compare = parse_recipe(CompareRequest(prompt="old", methods=["text", "depth"]).model_dump(mode="json"))
    assert compare.mode == "compare" and compare.compare.methods == ["text", "depth"]


def test_version_0_errors_say_it_was_migrated():
    refused({"prompt": "old", "steps": 3}, "schema version 0, migrated to 3", "generate.steps")


@pytest.mark.parametrize(
    ("version", "fragment"),
    [(SCHEMA_VERSION + 1, "newer Conditioning Studio"), (99, "received 99"), ("1", "whole number"),
     (1.0, "whole number"), (True, "whole number"), (-1, "0 or more"), (None, "whole number")],
)  # fmt: skip
def test_unusable_schema_versions_are_refused(version, fragment):
    refused({**minimal(), "schema_version": version}, "schema_version", fragment)


# -- hostile documents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "fragments"),
    [
        ({**minimal(), "model": "runwayml/stable-diffusion-v1-5"}, ("model: Extra inputs are not permitted",)),
        (minimal(base_model="stabilityai/sdxl"), ("generate.base_model: Extra inputs",)),
        (
            minimal(controls=[{"control_type": "depth", "detector": "lllyasviel/Annotators"}]),
            ("generate.controls.0.detector", "does not make depth maps", "depth_anything"),
        ),
        (
            {"mode": "compare", "compare": {"methods": ["pose:org/openpose"]}},
            ("compare.methods", "'org/openpose' does not make pose maps"),
        ),
        (
            {**minimal(controls=[{"control_type": "canny"}]), "images": {"structure": "../../etc/passwd"}},
            ("images.structure", "'../../etc/passwd' is not a bundled photo name", "never by a path or URL"),
        ),
        (
            {**minimal(ip_adapter={}), "images": {"reference": "https://evil.example/x.png"}},
            ("images.reference", "not a bundled photo name"),
        ),
        (
            {**minimal(ip_adapter={}), "images": {"reference": "missing.png"}},
            ("images.reference", "'missing.png' is not among the bundled photos"),
        ),
        (
            {"mode": "compare", "compare": {"detectors": {"depth": "/tmp/model.pt"}}},
            ("compare.detectors", "does not make depth maps"),
        ),
        (
            {"mode": "compare", "compare": {"detector_params": {"canny": {"low_threshold": "__import__('os')"}}}},
            ("compare.detector_params", "low_threshold"),
        ),
        ('{"mode": "generate", "generate": {"guidance_scale": NaN}}', ("generate.guidance_scale", "finite")),
        ('{"mode": "generate", "generate": {"guidance_scale": -Infinity}}', ("generate.guidance_scale", "finite")),
        ('{"mode": "generate", "generate": {"guidance_scale": 1e309}}', ("generate.guidance_scale", "finite")),
        (minimal(guidance_scale=1e308), ("generate.guidance_scale", "less than or equal to 30")),
        (minimal(seed=1e308), ("generate.seed", "valid integer")),
        ('{"mode": "generate", "generate": {"seed": ' + "9" * 5000 + "}}", ("generate.seed",)),
        (minimal(seed=2**53), ("generate.seed", "less than or equal to 9007199254740991")),
        (minimal(seed="7"), ("generate.seed", "valid integer", "'7'")),
        (minimal(num_inference_steps=True), ("generate.num_inference_steps", "valid integer")),
        (minimal(width=100), ("generate.width", "multiple of 8")),
        (minimal(scheduler="exec"), ("generate.scheduler", "dpmpp_2m_karras")),
        (minimal(prompt="x" * 5000), ("generate.prompt", "at most 2000 characters", "5000 long")),
        ({**minimal(), "title": "two\nlines"}, ("title", "one line")),
        ({**minimal(), "unknown": 1}, ("unknown: Extra inputs are not permitted",)),
        (minimal(controls=[{"control_type": "canny", "image": "coffee.png"}]), ("generate.controls.0.image",)),
        ({"mode": "compare", "compare": {"ip_adapter": {"image": None}}}, ("compare.ip_adapter.image",)),
        ('{"mode": "generate", "mode": "compare"}', ("the key 'mode' appears twice",)),
        ("[1, 2]", ("a recipe is a JSON object", "list")),
        ("{'mode': 'generate'}", ("not valid JSON",)),
        (b"\xff\xfe{}", ("not UTF-8",)),
    ],
)
def test_hostile_documents_are_refused_precisely(document, fragments):
    refused(document, *fragments)


def test_megabyte_prompt_is_refused_before_parsing():
    message = refused(json.dumps(minimal(prompt="x" * 2**20)), "bytes; at most 65,536 bytes")
    assert "1,048," in message


def test_deep_nesting_is_refused_before_json_recursion():
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    refused(deep[: MAX_DOCUMENT_BYTES - 10], "nests more than")
    assert "nests more than" in refused('{"mode":' + "[" * 20 + "]" * 20 + "}")
    # Brackets inside strings do not count.
    assert parse_recipe(json.dumps(minimal(prompt="[[[[[[[[[[[[{{{{{{{{{{"))).generate.prompt.startswith("[[[")
    nested: dict = {}
    for _ in range(5000):
        nested = {"a": nested}
    refused({"mode": "generate", "generate": nested}, "Invalid recipe")


def test_zip_bomb_share_token_is_refused():
    bomb = zlib.compress(b'{"title":"' + b"a" * 4_000_000 + b'"}', 9)
    token = base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    assert len(token) < 8192
    with pytest.raises(StudioError, match="expands to more than 65,536 bytes"):
        decode_share(token)


@pytest.mark.parametrize(
    ("token", "fragment"),
    [("", "empty"), ("a" * 9000, "at most 8,192"), ("abc$%", "base64url"), ("aGVsbG8", "not a compressed recipe"),
     (base64.urlsafe_b64encode(zlib.compress(b'{"mode":"generate"}')[:-6]).decode().rstrip("="), "truncated")],
)  # fmt: skip
def test_bad_share_tokens_are_refused(token, fragment):
    with pytest.raises(StudioError, match=fragment):
        decode_share(token)


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    data = buffer.getvalue()
    extra = b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)) for kind, body in chunks
    )
    return data[:33] + extra + data[33:]  # after the signature and IHDR


def test_oversize_png_chunks_are_refused():
    big = _png([(b"tEXt", b"conditioning-studio\0" + b"{" * 100_000)])
    with pytest.raises(StudioError, match="'conditioning-studio' text is over 65,536 bytes; refused"):
        recipe_from_png(big)
    bomb = _png([(b"zTXt", b"parameters\0\0" + zlib.compress(b"a" * 10_000_000))])
    with pytest.raises(StudioError, match="'parameters' text chunk expands past 1,048,576 bytes"):
        recipe_from_png(bomb)


def test_png_with_hostile_embedded_recipe_is_refused_by_the_schema():
    hostile = _png([(b"tEXt", b'conditioning-studio\0{"mode":"generate","generate":{},"model":"org/x"}')])
    with pytest.raises(StudioError, match="model: Extra inputs are not permitted"):
        recipe_from_png(hostile)


def test_other_files_and_damaged_pngs_are_refused():
    with pytest.raises(StudioError, match="not a PNG"):
        recipe_from_png(b"GIF89a....")
    with pytest.raises(StudioError, match="carries no recipe"):
        recipe_from_png(_png([]))
    damaged = bytearray(_png([(b"tEXt", b"parameters\0a cat\nSteps: 3, Seed: 1, CFG scale: 2")]))
    damaged[33 + 8 + len(b"parameters\0") + 2] ^= 0xFF  # a byte of the text, not the keyword
    with pytest.raises(StudioError, match="damaged"):
        recipe_from_png(bytes(damaged))


def test_parsing_still_works_after_hostile_documents():
    for document in ("{" * 50, "[" * 10_000, '{"schema_version": 99}'):
        with pytest.raises(StudioError):
            parse_recipe(document)
    assert parse_recipe(recipe_to_json(TRICKY)) == TRICKY


# -- A1111 ----------------------------------------------------------------------------------------------------

A1111 = (
    "masterpiece, a photo of a/b castle, (detailed:1.2)\nat dusk\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592, Size: 512x768, "
    'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "add_detail: 7c6bad76eb54, x: y", '
    "Version: v1.9.4"
)


def _a1111_png(parameters: str, extra: list[tuple[str, str]] = ()) -> bytes:
    info = PngInfo()
    for key, value in extra:
        info.add_text(key, value, zip=True)
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def test_a1111_parameters_are_read_into_the_matching_fields():
    # A ComfyUI-sized workflow chunk alongside is skipped, not refused.
    recipe, message = recipe_from_png(_a1111_png(A1111, [("workflow", json.dumps({"n": "x" * 200_000}))]))
    settings = recipe.generate
    assert settings.prompt == "masterpiece, a photo of a/b castle, (detailed:1.2)\nat dusk"
    assert settings.negative_prompt == "lowres, bad anatomy"
    assert (settings.num_inference_steps, settings.guidance_scale, settings.seed) == (30, 6.5, 3141592)
    assert (settings.width, settings.height, settings.scheduler) == (512, 768, "dpmpp_2m_karras")
    assert recipe.mode == "generate" and recipe.ui_tab == "text"
    assert "A1111" in message and "Model" in message and "Lora hashes" in message


def test_a1111_values_outside_the_schema_are_dropped_with_a_note():
    text = "a cat\nSteps: 500, Sampler: Heun, CFG scale: nan, Seed: -4, Size: 500x500, Model: ../../etc/passwd"
    recipe, message = recipe_from_png(_a1111_png(text))
    default = GenerationSettings()
    assert recipe.generate.prompt == "a cat"
    for name in ("num_inference_steps", "guidance_scale", "seed", "scheduler"):
        assert getattr(recipe.generate, name) == getattr(default, name), name
    assert (recipe.generate.width, recipe.generate.height) == (496, 496)  # the nearest allowed size
    for fragment in (
        "num_inference_steps",
        "guidance_scale",
        "seed",
        "width",
        "'Heun' has no match",
        "width 500 rounded to 496",
    ):
        assert fragment in message, message
    assert "passwd" not in message  # a checkpoint name is never evidence, nor repeated


def test_a1111_old_sampler_style_and_our_own_parameters_line():
    recipe, _ = recipe_from_png(_a1111_png("a dog\nSteps: 12, Sampler: Euler a, CFG scale: 3, Seed: 8, Size: 64x96"))
    assert (recipe.generate.scheduler, recipe.generate.width, recipe.generate.height) == ("euler_a", 64, 96)
    # Our own A1111 line, read by the fallback path, gives back the shared settings.
    ours = read_text_chunks(png_with_recipe(Image.new("RGB", (8, 8)), TRICKY))["parameters"]
    fallback, _ = recipe_from_png(_a1111_png(ours))
    for name in CommonSettings.model_fields:
        assert getattr(fallback.generate, name) == getattr(TRICKY.generate, name), name


# -- presets, assets, notices --------------------------------------------------------------------------------


def test_presets_cover_every_lesson_and_use_bundled_photos():
    presets = load_presets()
    assert len(presets) >= 7
    methods = {r.method for r in presets.values()}
    assert {"text", "pose", "canny", "depth", "ip_adapter", "depth+ip_adapter"} <= methods
    assert any(r.mode == "compare" and len(r.compare.methods) >= 5 for r in presets.values())
    for name, recipe in presets.items():
        assert recipe.title and 20 <= len(recipe.description) <= 240, name
        assert recipe_notice(recipe) is None, name  # every image it needs is bundled
        # Presets are written out in full, so they read as documentation.
        assert recipe_to_dict(recipe) == parse_recipe(recipe_to_json(recipe)).model_dump(
            mode="json", exclude_none=True
        ) | {"schema_version": SCHEMA_VERSION}


def test_assets_have_licences_and_are_found_by_content():
    from app.recipes import ASSETS_DIR

    licences = (ASSETS_DIR / "LICENSES.md").read_text()
    for name in list_assets():
        assert f"`{name}`" in licences, name
    photo = load_asset("chelsea.png")
    assert find_asset(photo) == "chelsea.png"
    assert find_asset(Image.new("RGB", (64, 64))) is None
    with pytest.raises(StudioError, match="not a bundled photo"):
        load_asset("../LICENSES.md")


def test_recipe_from_generation_records_bundled_images_by_name_only():
    photo = load_asset("coffee.png")
    recipe = recipe_from_generation(
        {"prompt": "x", "controls": [{"control_type": "canny", "image": photo}]}, structure=photo, reference=photo
    )
    assert recipe.images.structure == "coffee.png" and recipe.images.reference is None  # no IP-Adapter: dropped
    own = recipe_from_generation(
        {"prompt": "x", "controls": [{"control_type": "canny"}]}, structure=Image.new("RGB", (64, 64))
    )
    assert own.images.structure is None
    assert recipe_notice(own) == (
        "This recipe needs a structure photo (its canny map is made from it): upload your own, then generate."
    )
    assert "reference image" in recipe_notice(Recipe(mode="compare", compare={"methods": ["ip_adapter"]}))


# -- model families ---------------------------------------------------------------------------------------------


def test_a_recipe_records_its_family_and_round_trips_through_every_codec():
    sdxl = parse_recipe({"schema_version": 2, "mode": "compare",
                         "compare": {"family": "sdxl", "prompt": "a cat", "methods": ["text", "depth"]}})  # fmt: skip
    assert sdxl.compare.family == "sdxl" and (sdxl.compare.width, sdxl.compare.height) == (1024, 1024)
    small = parse_recipe({"mode": "generate", "generate": {"family": "sdxl", "prompt": "a cat", "width": 512}})
    for recipe in (sdxl, small):
        assert decode_share(encode_share(recipe)) == recipe  # a size equal to SD1.5's default survives the link
        assert parse_recipe(recipe_to_json(recipe)) == recipe
        assert recipe_from_png(Image.open(io.BytesIO(png_with_recipe(Image.new("RGB", (8, 8)), recipe))))[0] == recipe
    assert small.generate.width == 512 and small.generate.height == 1024


def test_version_1_recipes_are_sd15_and_an_unknown_family_is_refused_by_name():
    old = parse_recipe({"schema_version": 1, "mode": "generate", "generate": {"prompt": "a cat"}})
    assert old.schema_version == SCHEMA_VERSION and old.generate.family == "sd15" and old.generate.width == 512
    refused({**minimal(), "generate": {"prompt": "a cat", "family": "sd3"}}, "generate.family", "sd15", "sdxl", "flux")


def test_a1111_family_comes_from_evidence_never_from_a_checkpoint_name():
    # Pony/Illustrious-style SDXL checkpoints with no "xl" in the name, at an SDXL size or with the SDXL VAE.
    for text, family in (
        ("Size: 832x1216, Model: ponyDiffusionV6", "sdxl"),
        ("Size: 512x512, Model: illustrious_v1, VAE: sdxl_vae.safetensors", "sdxl"),
        ("Size: 512x768, Model: juggernautXL_v9", "sd15"),  # the name says XL; the size says SD1.5
        ("Size: 512x512, Model: v1-5-pruned-emaonly", "sd15"),
    ):
        recipe, message = recipe_from_png(_a1111_png(f"a cat\nSteps: 20, Seed: 1, {text}"))
        assert recipe.generate.family == family, (text, message)
    unsure, message = recipe_from_png(_a1111_png("a cat\nSteps: 20, Seed: 1, Size: 768x768, Model: x"))
    assert unsure.generate.family == "sd15" and "unsure" in message  # kept, and said
    ours = parse_recipe({"mode": "generate", "generate": {"family": "sdxl", "prompt": "a cat"}})
    recipe, _ = recipe_from_png(_a1111_png(format_parameters(ours)))
    assert recipe.generate.family == "sdxl" and recipe.generate.width == 1024
