"""Hugging Face Space readiness: the README front matter, ZeroGPU wrapping, and the README's API snippets."""

from __future__ import annotations

import multiprocessing
import re
import sys
import threading
import time
import types
from pathlib import Path

import yaml

from app.serving.hub import default_hub_repositories, preload_from_hub_lines
from tests.ui_fixtures import SMALL

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def front_matter() -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", README, re.S)
    assert match, "README.md must start with YAML front matter"
    return yaml.safe_load(match.group(1))


def pinned(package: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == package:
            return line.split("==")[1].strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


def test_front_matter_is_a_complete_space_config():
    config = front_matter()
    for key in ("title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file", "python_version"):
        assert config.get(key), key
    assert config["sdk"] == "gradio" and config["app_file"] == "app.py"
    assert (ROOT / config["app_file"]).is_file()
    assert str(config["sdk_version"]) == pinned("gradio")
    assert config["license"] and config["suggested_hardware"]
    assert 0 < len(config["short_description"]) <= 60


ZEROGPU_TORCH = ("2.8.0", "2.9.1", "2.10.0", "2.11.0")  # the torch releases ZeroGPU installs
ZEROGPU_PYTHON = ("3.10", "3.10.13", "3.12", "3.12.12")


def requirements_for(python: str) -> dict[str, str]:
    """Each requirement's version specifier as pip resolves requirements.txt on ``python`` (markers evaluated)."""
    from packaging.requirements import Requirement

    lines = [line.split(" #")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    env = {"python_version": ".".join(python.split(".")[:2]), "python_full_version": python}
    chosen = [r for r in requirements if r.marker is None or r.marker.evaluate(env)]
    assert len({r.name for r in chosen}) == len(chosen), f"two lines apply to one package on Python {python}"
    return {r.name: str(r.specifier) for r in chosen}


def test_the_space_resolves_to_a_python_and_torch_that_zerogpu_runs():
    python = str(front_matter()["python_version"])
    assert python in ZEROGPU_PYTHON
    space = requirements_for(python if python.count(".") == 2 else f"{python}.12")
    assert space["torch"].removeprefix("==") in ZEROGPU_TORCH
    assert space["torchvision"].startswith("==")
    local = requirements_for("3.11.7")  # the machines the suite runs on
    assert local["torch"] == "==2.14.1" and local["torchvision"] == "==0.29.1"


def test_models_list_is_exactly_what_the_default_settings_load():
    config = front_matter()
    assert set(config["models"]) == set(default_hub_repositories())
    preloaded = [entry.split()[0] for entry in config["preload_from_hub"]]
    assert set(preloaded) == set(config["models"])
    # Exactly the files a GPU run reads (fp16 variants; no safety checker, no .bin), as tests/test_hub_layout.py loads.
    assert config["preload_from_hub"] == preload_from_hub_lines()
    for entry in config["preload_from_hub"]:
        files = entry.split()[1].split(",") if len(entry.split()) > 1 else []
        assert not [f for f in files if f.endswith((".bin", ".ckpt"))], entry  # safetensors (and pinned .pth) only


class RecordingSpaces(types.ModuleType):
    """A stand-in for the ``spaces`` package that records what it wraps."""

    def __init__(self) -> None:
        super().__init__("spaces")
        self.wrapped: dict[str, object] = {}  # qualified name -> duration
        self.calls: list[str] = []

    def GPU(self, duration=60):
        def decorate(fn):
            self.wrapped[fn.__qualname__] = duration

            def run(*args, **kwargs):
                self.calls.append(fn.__name__)
                return fn(*args, **kwargs)

            return run

        return decorate


def test_with_spaces_every_generating_function_is_wrapped_with_a_growing_duration(monkeypatch, studio):
    from app.ui import build_app

    stub = RecordingSpaces()
    monkeypatch.setitem(sys.modules, "spaces", stub)
    demo = build_app(studio=studio)
    generating = {fn.api_name for fn in demo.fns.values() if fn.concurrency_id == "gpu" and fn.api_name}
    # Previews too: the detectors run on the GPU with the diffusion models, so only inside a GPU call.
    previews = {name: d for name, d in stub.wrapped.items() if name.endswith("run_preview")}
    assert len(stub.wrapped) == len(generating) >= 6 and len(previews) == 2
    for name, duration in stub.wrapped.items():
        small = duration(num_inference_steps=10, width=256, height=256, num_images_per_prompt=1)
        large = duration(num_inference_steps=50, width=768, height=768, num_images_per_prompt=2)
        assert 0 < small < large or (name in previews and 0 < small == large <= 30), name
    compare = next(d for name, d in stub.wrapped.items() if name.endswith("run_compare"))
    one = compare(num_inference_steps=25, width=512, height=512, methods=["text"])
    five = compare(
        num_inference_steps=25, width=512, height=512, methods=["text", "canny", "pose", "depth", "ip_adapter"]
    )
    assert one < five
    exact = compare(
        num_inference_steps=25, width=512, height=512, methods=["text", "canny", "pose", "depth", "ip_adapter"],
        batching="exact",
    )  # fmt: skip
    assert five < exact  # one batched pass reserves less than five runs, and still more than one


def test_with_spaces_the_wrapped_handlers_still_serve_requests(monkeypatch, studio):
    from gradio_client import Client

    from app.ui import build_app, launch_options
    from tests.ui_fixtures import free_port

    stub = RecordingSpaces()
    monkeypatch.setitem(sys.modules, "spaces", stub)
    demo = build_app(studio=studio)
    demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **launch_options()
    )
    try:
        gallery, _ = Client(demo.local_url, verbose=False).predict(prompt="x", **SMALL, api_name="/text_to_image")
    finally:
        demo.close()
    assert gallery and stub.calls == ["run"]  # the text tab's handler ran through spaces.GPU


def test_without_spaces_the_handlers_are_not_wrapped(monkeypatch, studio):
    from app.serving.zerogpu import on_zerogpu, spaces_module
    from app.ui.jobs import on_gpu

    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails, as on a plain machine
    assert spaces_module() is None and not on_zerogpu()

    def handler(**values):
        return values

    assert on_gpu(handler, "text") is handler


def test_readme_api_snippets_run_against_the_tiny_app(served_app, monkeypatch):
    from gradio_client import Client

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    snippet = next(b for b in blocks if "gradio_client" in b)
    assert all(f"/{name}" in snippet for name in ("text_to_image", "controlnet", "ip_adapter", "compare", "sweep"))
    original = Client.predict

    def small_predict(self, *args, **kwargs):  # the same calls, at test size
        if kwargs.get("api_name") not in ("/preview_maps", "/preview_all_maps"):
            kwargs = {**SMALL, **kwargs}
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "predict", small_predict)
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(snippet.replace("http://127.0.0.1:7860/", served_app.url), "README.md", "exec"), namespace)
    assert namespace["gallery"] and namespace["results"] and "fits" in str(namespace["advice"])
    assert namespace["grid"] and namespace["table"]


def _worker(key, ready, steps) -> None:
    """A ZeroGPU-style worker: a forked process that runs a job until its cancel signal says stop."""
    from app.ui.cancel import JobCancel

    cancel = JobCancel(key)
    ready.set()
    for step in range(4000):
        if cancel.is_set():
            steps.put(step)
            return
        time.sleep(0.005)
    steps.put(None)


def _run_forked_job(key, stop) -> int | None:
    context = multiprocessing.get_context("fork")  # how spaces.GPU starts its worker
    ready, steps = context.Event(), context.Queue()
    process = context.Process(target=_worker, args=(key, ready, steps), daemon=True)
    process.start()
    try:
        assert ready.wait(10), "the worker never started"
        stop()
        return steps.get(timeout=15)
    finally:
        process.join(5)


def test_stop_and_gradio_cancel_reach_a_job_in_a_forked_zerogpu_worker(monkeypatch):
    from app.settings import Settings
    from app.ui import cancel
    from app.ui.jobs import StudioHandle, _gpu_call

    handle = StudioHandle(Settings(model_source="tiny"))
    request = types.SimpleNamespace(session_hash="zerogpu-session")
    key = (request.session_hash, "text")
    assert not handle.stop("text", request)  # nothing runs: Stop says so
    with _gpu_call(key):  # the serving process waits for the worker, as on_gpu does on ZeroGPU
        assert _run_forked_job(key, lambda: handle.stop("text", request)) is not None
    # gradio cancels the event (an API client's cancel(), a closed tab): the serving process's watcher tells the worker.
    gone = threading.Event()
    monkeypatch.setattr(cancel, "gradio_event_alive", lambda: lambda: not gone.is_set())
    with _gpu_call(key):
        assert _run_forked_job(key, gone.set) is not None


def test_stop_returns_once_the_stopped_job_is_over():
    """The page tidies its gallery when Stop returns, so the job must be over by then: a preview it published late
    drew "step 41/100" back over the tidied page."""
    from app.settings import Settings
    from app.ui.jobs import StudioHandle

    handle = StudioHandle(Settings(model_source="tiny"), studio=object())
    request = types.SimpleNamespace(session_hash="stop-waits")
    started, finished = threading.Event(), []

    def job() -> None:
        with handle.job("text", request, lambda *args, **kwargs: None) as running:
            started.set()
            while not running.cancel.is_set():
                time.sleep(0.01)
            time.sleep(0.3)  # the step in progress ends before the job sees the signal
            finished.append(True)

    worker = threading.Thread(target=job)
    worker.start()
    assert started.wait(5)
    assert handle.stop("text", request) and finished == [True]
    worker.join(5)
    assert not handle.stop("text", request)  # over: nothing left to stop
