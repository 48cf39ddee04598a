"""Files the page offers for download (a recipe's JSON, a report's HTML), written where gradio keeps its own.

A file in gradio's cache is served as it is and pruned with every upload by the Blocks' ``delete_cache``; a file
anywhere else is copied there and the original stays behind for the life of the process (one per click). Each
file is named by its content, so the same download asked for twice is one file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from gradio.utils import get_upload_folder


def cached_file(data: bytes, name: str) -> str:
    """``data`` as ``<gradio cache>/<content hash>/<name>``; its path."""
    folder = Path(get_upload_folder()) / f"studio-{hashlib.sha256(data + name.encode()).hexdigest()[:32]}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.is_file():
        handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(staging, target)  # a concurrent request for the same file never sees half of it
    return str(target)
