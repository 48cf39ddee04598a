"""Recipe ⇄ request: capture what the UI shows as a recipe, and turn a recipe back into a run.

A single generation's ControlNets are stored as *how to make the map*
(control type, detector, detector parameters, strength, guidance window), so
:func:`recipe_to_request` rebuilds each map through ``studio.control_map`` (the
same cached map service a normal run uses): same recipe + same images + same
machine ⇒ the same pixels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from PIL import Image

from app.engine.result import Result
from app.errors import StudioError
from app.images import load_image
from app.preprocess import DEFAULTS
from app.recipes.assets import find_asset, load_asset
from app.recipes.schema import CompareSettings, GenerationSettings, ImageRefs, Recipe, RecipeControl
from app.request import ControlSettings, GenerationRequest, IPAdapterSettings, parse_request, validated
from app.request.compare import CompareEntry, CompareRequest, parse_compare_request

if TYPE_CHECKING:
    from app.studio import Studio


def _asset_name(image: Any) -> str | None:
    if isinstance(image, str):
        return image  # validated by the schema as a bundled name
    return find_asset(image) if isinstance(image, Image.Image) else None


def recipe_from_generation(
    request: GenerationRequest | Mapping[str, Any],
    *,
    detectors: Mapping[str, str] | None = None,
    detector_params: Mapping[str, Mapping[str, Any]] | None = None,
    fit: str = "crop",
    tab: str | None = None,
    structure: str | Image.Image | None = None,
    reference: str | Image.Image | None = None,
    title: str = "",
    description: str = "",
) -> Recipe:
    """The recipe of a single generation, as the UI holds it.

    Args:
        request: The request (or its dict); its images are not stored.
        detectors: Control type → the detector that made its map (default: the type's default detector).
        detector_params: Detector → the parameters it ran with.
        fit: How the structure photo was fitted to the output size (``crop`` or ``pad``).
        tab: The tab it came from (``text``, ``controlnet``, ``ip_adapter``); derived when None.
        structure: The structure photo: a bundled asset's name, or the image itself (recorded by name
            only if it *is* a bundled photo, else the recipe asks the user for one).
        reference: The IP-Adapter reference, likewise.
        title: Name shown in the presets menu.
        description: One line: what this shows.

    Raises:
        StudioError: the settings do not form a valid recipe (naming the field).
    """
    if isinstance(request, GenerationRequest):
        data = request.model_dump(mode="json")
    else:
        data = {k: v for k, v in request.items() if k not in ("controls", "ip_adapter")}
        data["controls"] = [{k: v for k, v in dict(c).items() if k != "image"} for c in request.get("controls") or []]
        ip = request.get("ip_adapter")
        data["ip_adapter"] = {k: v for k, v in dict(ip).items() if k != "image"} if ip else None
    detectors = dict(detectors or {})
    params = {k: dict(v) for k, v in (detector_params or {}).items()}

    controls = []
    for control in data.pop("controls"):
        detector = detectors.get(control["control_type"], DEFAULTS[control["control_type"]])
        controls.append({**control, "detector": detector, "detector_params": params.get(detector, {})})
    images = ImageRefs(
        structure=_asset_name(structure) if controls else None,
        reference=_asset_name(reference) if data.get("ip_adapter") else None,
    )
    return _build(
        title=title, description=description, mode="generate", tab=tab,
        generate={**data, "controls": controls, "fit": fit}, images=images,
    )  # fmt: skip


def recipe_from_compare(
    request: CompareRequest | Mapping[str, Any],
    *,
    structure: str | Image.Image | None = None,
    reference: str | Image.Image | None = None,
    title: str = "",
    description: str = "",
) -> Recipe:
    """The recipe of a comparison (arguments as in :func:`recipe_from_generation`)."""
    settings = parse_compare_request(request) if not isinstance(request, CompareRequest) else request
    draft = CompareSettings.model_validate(settings.model_dump(mode="json"))
    needs_structure = any(m.controls for m in draft.parsed_methods())
    needs_reference = any(m.ip_adapter for m in draft.parsed_methods())
    images = ImageRefs(
        structure=_asset_name(structure) if needs_structure else None,
        reference=_asset_name(reference) if needs_reference else None,
    )
    return _build(title=title, description=description, mode="compare", compare=draft, images=images)


def generation_from_compare(settings: CompareSettings, method: str) -> GenerationSettings:
    """One method of a comparison as the single generation it runs: the shared settings, its controls with the
    comparison's detectors and each type's strength, the IP-Adapter's scale and mode where it uses it."""
    parsed = next((m for m in settings.parsed_methods() if m.name == method), None)
    if parsed is None:
        raise StudioError(f"method {method!r} is not one of this comparison's: {settings.method}")
    controls = [
        RecipeControl(control_type=kind, detector=detector, detector_params=settings.detector_params.get(detector, {}),
                      adapter=kind in parsed.adapters, **settings.control_for(kind).model_dump())
        for kind, detector in parsed.controls
    ]  # fmt: skip
    ip_adapter = settings.ip_adapter.model_dump() if parsed.ip_adapter else None
    return GenerationSettings(
        **settings.common(), controls=controls, ip_adapter=ip_adapter, fit=settings.fit,
        num_images_per_prompt=1,
    )  # fmt: skip


def _build(**fields: Any) -> Recipe:
    return validated(Recipe, fields, "Invalid recipe — ")


def missing_images(recipe: Recipe, structure_image: Any = None, reference_image: Any = None) -> list[str]:
    """What the user still has to supply before the recipe can run, in words (empty when nothing)."""
    needs_structure, needs_reference = recipe.needs_images()
    missing = []
    if needs_structure and recipe.images.structure is None and structure_image is None:
        missing.append(f"a structure photo (its {_structure_use(recipe)} map is made from it)")
    if needs_reference and recipe.images.reference is None and reference_image is None:
        missing.append("a reference image for the IP-Adapter")
    return missing


def recipe_notice(recipe: Recipe, structure_image: Any = None, reference_image: Any = None) -> str | None:
    """A one-line notice when a shared recipe needs the user to supply an image (one not given here); None when it
    does not."""
    missing = missing_images(recipe, structure_image, reference_image)
    if not missing:
        return None
    return f"This recipe needs {' and '.join(missing)}: upload your own, then generate."


def _structure_use(recipe: Recipe) -> str:
    settings = recipe.settings
    if isinstance(settings, GenerationSettings):
        return "/".join(c.control_type for c in settings.controls)
    return "/".join(dict.fromkeys(t for m in settings.parsed_methods() for t, _ in m.controls))


def resolve_images(
    recipe: Recipe, structure_image: Any = None, reference_image: Any = None
) -> tuple[Image.Image | None, Image.Image | None]:
    """The structure and reference images a run uses: the user's, else the recipe's bundled ones.

    Images the recipe does not use are dropped. A generation needs every image it uses; a comparison runs without
    one (its methods that need it are left out, each saying why).

    Raises:
        StudioError: a generation's image is missing.
    """
    missing = missing_images(recipe, structure_image, reference_image)
    if missing and recipe.mode != "compare":
        raise StudioError(f"This recipe needs {' and '.join(missing)}, received none.")
    needs_structure, needs_reference = recipe.needs_images()
    structure = _image(structure_image, recipe.images.structure) if needs_structure else None
    reference = _image(reference_image, recipe.images.reference) if needs_reference else None
    return structure, reference


def _image(given: Any, bundled: str | None) -> Image.Image | None:
    """The user's image, else the recipe's bundled one, else None."""
    if given is not None:
        return load_image(given)
    return load_asset(bundled) if bundled is not None else None


def recipe_to_request(
    recipe: Recipe, studio: Studio, structure_image: Any = None, reference_image: Any = None
) -> GenerationRequest | CompareRequest:
    """The request a recipe describes, ready for ``studio.generate`` (maps made) or ``studio.compare``.

    A comparison request carries no images: pass the images from :func:`resolve_images` to
    ``studio.compare`` (or use :func:`run_recipe`).

    Raises:
        StudioError: a needed image is missing, a detector fails (e.g. no person for pose), or a cap is exceeded.
    """
    if recipe.mode == "compare":
        return CompareRequest.model_validate(recipe.compare.model_dump())
    settings = recipe.generate
    structure, reference = resolve_images(recipe, structure_image, reference_image)
    controls = [_control(studio, control, structure, settings) for control in settings.controls]
    ip_adapter = IPAdapterSettings(**settings.ip_adapter.model_dump(), image=reference) if settings.ip_adapter else None
    common = settings.common()
    return parse_request(
        {
            **common,
            "num_images_per_prompt": settings.num_images_per_prompt,
            "controls": controls,
            "ip_adapter": ip_adapter,
        }
    )


def _control(studio: Studio, control: RecipeControl, structure: Image.Image, settings: GenerationSettings):
    made = studio.control_map(
        structure,
        control.resolved_detector,
        settings.width,
        settings.height,
        settings.fit,
        control.detector_params or None,
    )
    strength = control.model_dump(
        include={"controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end"}
    )
    return ControlSettings(control_type=control.control_type, image=made.map, **strength)


def run_recipe(
    recipe: Recipe, studio: Studio, structure_image: Any = None, reference_image: Any = None, **kwargs: Any
) -> Result | Iterator[CompareEntry]:
    """Run a recipe: a :class:`Result` for ``generate``, the comparison's entries (an iterator) for ``compare``.

    Args:
        recipe: The recipe.
        studio: The studio to run on.
        structure_image: The user's structure photo (else the recipe's bundled one).
        reference_image: The user's reference image (else the recipe's bundled one).
        **kwargs: ``progress`` / ``cancel``, passed to the studio.
    """
    if recipe.mode == "compare":
        structure, reference = resolve_images(recipe, structure_image, reference_image)
        return studio.compare(recipe_to_request(recipe, studio), structure, reference, **kwargs)
    return studio.generate(recipe_to_request(recipe, studio, structure_image, reference_image), **kwargs)
