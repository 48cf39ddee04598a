"""Evaluation: the Compare tab's fair comparison and fit scores across a folder of photos and seeds.

- :mod:`app.eval.inputs` — photos, prompts, references and seeds into (photo, seed) work items;
- :mod:`app.eval.runner` — one item into its rows, through ``Studio.compare`` and ``Studio.score``;
- :mod:`app.eval.rows` — the resumable results file (a shard per process, merged by the main process);
- :mod:`app.eval.cli` — ``python -m app.eval`` and ``accelerate launch -m app.eval``;
- :mod:`app.eval.report` — the HTML report; :mod:`app.eval.calibrate` — one-seed margins measured from a run.
"""
