"""Running the diffusion models: where weights come from and how they are shared, placed and sampled.

- :mod:`app.engine.models` — the model spec (Hub ids or local folders), the control types;
- :mod:`app.engine.pipelines` — the process-wide pipeline cache every method runs on;
- :mod:`app.engine.devices` — device, dtype and peak-memory measurement;
- :mod:`app.engine.placement` — where detectors and the scoring CLIP run (importable without torch);
- :mod:`app.engine.schedulers` — the samplers, built fresh per call;
- :mod:`app.engine.result` — what one generation returns.

This ``__init__`` imports nothing, so the light modules stay light (``placement``, ``models``, ``result``).
"""
