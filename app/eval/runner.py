"""One evaluation item → its rows: the Compare tab's comparison (``Studio.compare``) and fit scores
(``Studio.score``), unchanged, on one photo and one seed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from app.eval.inputs import Item, safe_name
from app.fit import score_results
from app.fit.anchors import anchor_values
from app.fit.matrix import FitMatrix
from app.images import load_image
from app.recipes import recipe_from_compare
from app.recipes.codec import recipe_to_dict
from app.recipes.png import png_with_recipe
from app.request.compare import CompareEntry, parse_compare_request, parse_method
from app.studio import Studio


@dataclass(frozen=True)
class RunConfig:
    """What every item of a run shares (the request fields of a comparison, but prompt, seed and images)."""

    methods: list[str]
    width: int = 512
    height: int = 512
    num_inference_steps: int = 25
    guidance_scale: float = 7.0
    batching: str | None = None
    save_images: bool = False
    family: str = "sd15"
    ip_adapter: dict[str, Any] | None = None
    """The image prompt's scale and mode where given (``--ip-scale``, ``--ip-mode``); None: the defaults."""

    def describe(self) -> dict[str, Any]:
        """The comparison fields every item shares; a results folder holds them (a rerun into it must match)."""
        shared = {
            "family": self.family,
            "methods": self.methods,
            "width": self.width,
            "height": self.height,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "batching": self.batching,
        }
        # Only when given, so a run made before these options existed still matches its folder.
        return shared if self.ip_adapter is None else {**shared, "ip_adapter": self.ip_adapter}

    def request(self, item: Item) -> dict[str, Any]:
        """The comparison request of ``item``, validated as the Compare tab's would be."""
        return parse_compare_request({**self.describe(), "prompt": item.prompt, "seed": item.seed}).model_dump(
            mode="json"
        )


def evaluate_item(studio: Studio, item: Item, config: RunConfig, out: Path) -> list[dict[str, Any]]:
    """The rows of one item: one per method, scored on every fit, with its cost and recipe.

    A method that cannot run (no person for pose, no reference for the IP-Adapter) gets a row with its ``error``
    and no scores, so every item has one row per method.

    Raises:
        StudioError: the photo (or its reference) is not a usable image.
    """
    photo = load_image(item.path)
    reference = load_image(item.reference) if item.reference is not None else None
    request = config.request(item)
    if request["batching"] is None:
        request["batching"] = studio.default_batching()  # the rows and recipe say which mode ran
    methods = [parse_method(m, request["detectors"]) for m in request["methods"]]
    # A method without its reference is left out by the comparison itself, with why (as in the Compare tab).
    entries: dict[str, CompareEntry] = {e.method.name: e for e in studio.compare(request, photo, reference)}
    finished = [e for e in entries.values() if e.result is not None]
    # One fit context serves the scores and the published protocols (Studio.score would build its own again).
    context = studio.fit_context(finished, request, reference) if finished else None
    matrix = score_results({e.method.name: e.result for e in finished}, context) if finished else None
    recipe = recipe_from_compare(request, structure=photo, reference=reference)
    rows = []
    for method in methods:
        entry = entries.get(method.name)
        error = "the comparison returned nothing for this method" if entry is None else entry.error
        result = entry.result if entry is not None else None
        row = _row(item, method.name, request["batching"], error, retry=entry is not None and entry.retry)
        row["recipe"] = recipe_to_dict(recipe, compact=True)
        if result is not None and matrix is not None:
            values = matrix.values.get(method.name, {})
            row["scores"] = {c.name: values.get(c.name) for c in matrix.columns if c.kind != "cost"}
            row["anchors"] = anchor_values(result.image, context, row["scores"])
            row.update(
                seconds=round(result.seconds, 4),
                peak_memory_bytes=result.measured_peak_memory,
                memory_kind=result.memory_kind,
                model_bytes=result.model_bytes,
            )
            if config.save_images:
                row["image"] = _save(result.image, out, item, method.name, recipe)
        rows.append(row)
    return rows


def comparison_rows(
    entries: list[CompareEntry], matrix: FitMatrix | None, request: dict[str, Any], photo: str
) -> list[dict[str, Any]]:
    """The rows of a comparison made in the Compare tab, one per method and seed, as :func:`evaluate_item` writes
    them (so the Report tab reads them): the seed's scores, the method's cost, its error when it did not run."""
    seeds = parse_compare_request(request).seeds
    item = Item(photo=photo, path=Path(photo), prompt=request.get("prompt", ""), reference=None, seed=seeds[0])
    columns = [c.name for c in matrix.columns if c.kind != "cost"] if matrix is not None else []
    rows = []
    for entry in entries:
        scored = entry.result is not None and matrix is not None and entry.method.name in matrix.methods
        samples = {name: matrix.sample(entry.method.name, name) for name in columns} if scored else {}
        for index, seed in enumerate(seeds):
            row = _row(replace(item, seed=seed), entry.method.name, request.get("batching"), entry.error, entry.retry)
            if scored:
                row["scores"] = {
                    name: values[index] if index < len(values) else None for name, values in samples.items()
                }
                row.update(
                    seconds=round(entry.result.seconds, 4),
                    peak_memory_bytes=entry.result.measured_peak_memory,
                    memory_kind=entry.result.memory_kind,
                    model_bytes=entry.result.model_bytes,
                )
            rows.append(row)
    return rows


def failed_rows(item: Item, config: RunConfig, error: str, retry: bool = False) -> list[dict[str, Any]]:
    """The rows of an item that could not run at all, one per method: its reference is not an image, or (``retry``)
    something a rerun may get past, such as a model that did not load."""
    return [_row(item, parse_method(m).name, config.batching, error, retry) for m in config.methods]


def _row(item: Item, method: str, batching: str | None, error: str | None, retry: bool = False) -> dict[str, Any]:
    return {
        "photo": item.photo,
        "seed": item.seed,
        "method": method,
        "prompt": item.prompt,
        "reference": safe_name(item.reference) if item.reference is not None else None,
        "batching": batching,
        "error": error,
        "retry": retry,  # a rerun into the same folder runs the item again
        "scores": {},
        "anchors": {},
        "seconds": None,
        "peak_memory_bytes": None,
        "memory_kind": None,
        "model_bytes": None,
        "image": None,
        "recipe": None,
    }


def _save(image: Image.Image, out: Path, item: Item, method: str, recipe) -> str:
    """The result as ``images/<photo>-seed<seed>-<method>.png`` with its recipe inside; the path from ``out``."""
    name = f"{Path(item.photo).stem}-seed{item.seed}-{method.replace('+', '-').replace(':', '-')}.png"
    target = Path(out) / "images" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png_with_recipe(image, recipe, seed=item.seed, method=method))
    return f"images/{name}"
