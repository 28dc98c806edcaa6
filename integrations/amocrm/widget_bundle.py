"""The widget archive a developer uploads to amoCRM (integration settings → widget)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

WIDGET_DIR = Path(__file__).resolve().parent / "widget"
BACKEND_PLACEHOLDER = "__BACKEND_URL__"


def widget_zip(target: Path, *, backend_url: str) -> list[str]:
    """Write the archive (manifest.json at its root, script.js pointing at our backend) and
    return the names it holds. Broken JSON is refused before anything is written."""
    files = sorted(path for path in WIDGET_DIR.rglob("*") if path.is_file())
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))  # ValueError names the broken file
    target.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            name = path.relative_to(WIDGET_DIR).as_posix()
            text = path.read_text(encoding="utf-8")
            if name == "script.js":
                text = text.replace(BACKEND_PLACEHOLDER, backend_url.rstrip("/"))
            archive.writestr(name, text)
            names.append(name)
    return names
