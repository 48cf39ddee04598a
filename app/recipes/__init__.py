"""Recipes: versioned, validated presets that are saved, shared as links and embedded in PNGs.

Public API::

    from app.recipes import (
        Recipe, parse_recipe, recipe_to_json,                       # JSON files
        encode_share, decode_share, share_url, share_token,         # share links (?recipe=...)
        attach_recipe, png_with_recipe, recipe_from_image,          # PNG text chunks; any tool's image
        recipe_from_generation, recipe_from_compare,                # capture the UI's state
        recipe_to_request, run_recipe, recipe_notice,               # run a recipe
        load_presets,                                               # presets/*.json
    )

Modules, one job each: :mod:`~app.recipes.schema` (the models and the trust
model), :mod:`~app.recipes.migrate` (schema versions), :mod:`~app.recipes.codec`
(JSON and share tokens, untrusted parsing), :mod:`~app.recipes.png` (text chunks),
:mod:`~app.recipes.a1111` (the ``parameters`` line), :mod:`~app.recipes.convert`
(recipe ⇄ request), :mod:`~app.recipes.presets`, :mod:`~app.recipes.assets`.
Nothing here imports gradio.
"""

from app.recipes.a1111 import format_parameters, parse_parameters
from app.recipes.assets import ASSETS_DIR, find_asset, list_assets, load_asset
from app.recipes.codec import (
    MAX_DOCUMENT_BYTES,
    MAX_SHARE_CHARS,
    SHARE_PARAM,
    decode_share,
    encode_share,
    parse_recipe,
    recipe_to_dict,
    recipe_to_json,
    share_token,
    share_url,
)
from app.recipes.convert import (
    missing_images,
    recipe_from_compare,
    recipe_from_generation,
    recipe_notice,
    recipe_to_request,
    resolve_images,
    run_recipe,
)
from app.recipes.migrate import MIGRATIONS, migrate
from app.recipes.png import (
    PARAMETERS_KEY,
    RECIPE_KEY,
    attach_recipe,
    png_with_recipe,
    recipe_from_image,
    recipe_from_png,
)
from app.recipes.presets import PRESETS_DIR, load_presets
from app.recipes.schema import (
    SCHEMA_VERSION,
    CompareSettings,
    GenerationSettings,
    ImageRefs,
    Recipe,
    RecipeControl,
    RecipeIPAdapter,
)

__all__ = [
    "ASSETS_DIR",
    "MAX_DOCUMENT_BYTES",
    "MAX_SHARE_CHARS",
    "MIGRATIONS",
    "PARAMETERS_KEY",
    "PRESETS_DIR",
    "RECIPE_KEY",
    "SCHEMA_VERSION",
    "SHARE_PARAM",
    "CompareSettings",
    "GenerationSettings",
    "ImageRefs",
    "Recipe",
    "RecipeControl",
    "RecipeIPAdapter",
    "attach_recipe",
    "decode_share",
    "encode_share",
    "find_asset",
    "format_parameters",
    "list_assets",
    "load_asset",
    "load_presets",
    "migrate",
    "missing_images",
    "parse_parameters",
    "parse_recipe",
    "png_with_recipe",
    "recipe_from_compare",
    "recipe_from_generation",
    "recipe_from_image",
    "recipe_from_png",
    "recipe_notice",
    "recipe_to_dict",
    "recipe_to_json",
    "recipe_to_request",
    "resolve_images",
    "run_recipe",
    "share_token",
    "share_url",
]
