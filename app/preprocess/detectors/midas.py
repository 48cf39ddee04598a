"""``midas``: controlnet-aux's MiDaS DPT-Hybrid depth estimator (the original ControlNet depth annotator)."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import Image
from pydantic import Field

from app.preprocess.base import AnnotatorFile, DepthDetector, DetectorParams
from app.preprocess.sources import MIDAS_FILE
from app.preprocess.third_party import import_controlnet_aux


class MidasParams(DetectorParams):
    """Inference size of the network."""

    detect_resolution: int = Field(
        384, ge=128, le=1024, description="Short side the network sees (rounded to 64).", json_schema_extra={"step": 64}
    )


def _dpt_hybrid() -> Any:
    """MiDaS DPT-Hybrid with controlnet-aux's load_model("dpt_hybrid") arguments, minus the file read."""
    dpt = import_controlnet_aux("midas.midas.dpt_depth", "midas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # timm's notice that it renamed vit_base_resnet50_384
        return dpt.DPTDepthModel(path=None, backbone="vitb_rn50_384", non_negative=True)


class MidasDetector(DepthDetector):
    """MiDaS v3 DPT-Hybrid (MIT licence) via controlnet-aux; relative inverse depth."""

    name: ClassVar[str] = "midas"
    label: ClassVar[str] = "MiDaS DPT-Hybrid (controlnet-aux)"
    description: ClassVar[str] = "The depth annotator ControlNet 1.1 depth was trained with."
    Params: ClassVar[type[DetectorParams]] = MidasParams
    needs_model: ClassVar[bool] = True
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (AnnotatorFile(MIDAS_FILE, _dpt_hybrid),)

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        import torch

        midas = import_controlnet_aux("midas", self.name)
        from controlnet_aux.midas.api import MiDaSInference, disabled_train

        class _Inference(MiDaSInference):
            # controlnet-aux's constructor would read the file with a bare torch.load.
            def __init__(self, net: Any) -> None:
                torch.nn.Module.__init__(self)
                self.model = net
                self.model.train = disabled_train

        return midas.MidasDetector(_Inference(self._annotator_network()))

    def _depth(self, image: Image.Image, params: MidasParams) -> np.ndarray:
        import torch
        from controlnet_aux.util import HWC3, resize_image

        rgb = resize_image(HWC3(np.asarray(image)), params.detect_resolution)
        with torch.inference_mode():
            # controlnet-aux's MidasDetector.__call__ normalisation, keeping the raw output.
            x = torch.from_numpy(rgb).float().div(127.5).sub(1.0).permute(2, 0, 1).unsqueeze(0)
            x = self.placement.inputs(x)
            depth = self._model.model(x)[0].float().cpu().numpy()
        return cv2.resize(depth, image.size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
