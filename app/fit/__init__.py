"""Measured fit: did each output follow the prompt, the structure and the reference? And the advice it supports.

Public API::

    from app.fit import FitContext, score_results, advise

    ctx = FitContext.from_maps(prompt, reference, maps={"depth": depth_map_result, "canny": canny_map_result})
    matrix = score_results({"text": result_text, "depth": result_depth, "ip_adapter": result_ip}, ctx)
    matrix.to_markdown()            # methods × scores (+ time, memory), best per column in bold
    verdict = advise(matrix)        # verdict.text, verdict.winner, verdict.numbers
    GUIDE                           # the static "when each method fits" guide

Every applicable score is computed for every result (text-only's depth score is
the baseline that shows what depth ControlNet added). Scorers are deterministic
and never import gradio; CLIP and the detectors load lazily, once per process.
"""

from __future__ import annotations

from app.fit.advice import (
    BASELINE,
    PROMPT_TOLERANCE,
    REFERENCE_MARGIN,
    STRUCTURE_MARGIN,
    TIE_TOLERANCE,
    Verdict,
    advise,
    method_label,
)
from app.fit.base import ControlTarget, FitContext, Scorer
from app.fit.clip import DEFAULT_CLIP_MODEL, ClipEmbedder, ScorerSources, get_clip, set_clip
from app.fit.guide import GUIDE, GUIDE_ENTRIES, guide_markdown
from app.fit.matrix import COST_COLUMNS, Column, FitMatrix, known_columns, score_results
from app.fit.registry import SCORERS, default_scorers
from app.fit.scores.depth import DepthScorer, depth_correlation, spearman
from app.fit.scores.edges import EdgeScorer, edge_f1, edge_mask
from app.fit.scores.pose import PCK_ALPHA, PoseScorer, pck
from app.fit.scores.prompt import PromptScorer
from app.fit.scores.reference import ReferenceScorer

__all__ = [
    "BASELINE",
    "COST_COLUMNS",
    "DEFAULT_CLIP_MODEL",
    "GUIDE",
    "GUIDE_ENTRIES",
    "PCK_ALPHA",
    "PROMPT_TOLERANCE",
    "REFERENCE_MARGIN",
    "SCORERS",
    "STRUCTURE_MARGIN",
    "TIE_TOLERANCE",
    "ClipEmbedder",
    "Column",
    "ControlTarget",
    "DepthScorer",
    "EdgeScorer",
    "FitContext",
    "FitMatrix",
    "PoseScorer",
    "PromptScorer",
    "ReferenceScorer",
    "Scorer",
    "ScorerSources",
    "Verdict",
    "advise",
    "default_scorers",
    "depth_correlation",
    "edge_f1",
    "edge_mask",
    "get_clip",
    "guide_markdown",
    "known_columns",
    "method_label",
    "pck",
    "score_results",
    "set_clip",
    "spearman",
]
