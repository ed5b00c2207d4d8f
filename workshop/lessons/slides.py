"""`workshop slides [CHAPTER]`: each notebook as reveal.js slides that open offline.

nbconvert's slides exporter loads reveal.js, jQuery and require.js from CDNs. Here they come
from the npm registry once (`npm pack`, cached in the state folder) and are copied beside the
slides, and every other URL the template would fetch (MathJax, mermaid) points at a local stub,
so the folder works from a USB stick with no network. One slide per "##" section, a sub-slide
per "###" heading (set on a copy of the notebook: the notebooks themselves carry the same
metadata for jupyterlab-rise, which presents them live from JupyterLab).
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

PACKAGES = {"reveal.js": "4.6.1", "jquery": "3.7.1", "requirejs": "2.3.7"}  # npm names and versions
ASSETS = "assets"
MATHJAX_STUB = "window.MathJax = {Hub: {getAllJax: function () { return []; }, Rerender: function () {}}};\n"
MERMAID_STUB = "export default { initialize() {} };\n"


def _cache() -> Path:
    from workshop.services import state

    return state.home() / "slides-assets"


def assets() -> Path:
    """The unpacked npm packages (fetched once with `npm pack`)."""
    folder = _cache()
    done = folder / ".complete"
    if done.is_file() and done.read_text() == repr(PACKAGES):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise WorkshopError(
            "Building slides needs npm once (reveal.js comes from the npm registry)",
            "install Node.js and npm, or present live from JupyterLab with jupyterlab-rise",
        )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        done_npm = subprocess.run([npm, "pack", "--silent", *specs], cwd=tmp, capture_output=True, text=True)
        if done_npm.returncode != 0:
            raise WorkshopError(
                f"npm could not fetch {', '.join(specs)} ({(done_npm.stderr.strip().splitlines() or ['?'])[-1]})",
                "check the connection to the npm registry, then run `workshop slides` again",
            )
        for name in PACKAGES:
            (archive,) = Path(tmp).glob(f"{name}-*.tgz")
            with tarfile.open(archive) as tar:
                tar.extractall(folder / name, filter="data")
    done.write_text(repr(PACKAGES))
    return folder


def _with_slide_metadata(nb):
    """A copy of the notebook where "##" headings start slides and "###" headings sub-slides."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        kind = "-"
        if cell.cell_type == "markdown" and first.startswith("## "):
            kind = "slide"
        elif cell.cell_type == "markdown" and first.startswith("### "):
            kind = "subslide"
        elif cell.cell_type == "markdown" and first.startswith("# "):
            kind = "slide"
        cell.metadata.setdefault("slideshow", {})["slide_type"] = cell.metadata.get("slideshow", {}).get(
            "slide_type", kind
        )
    return nb


def build(out: Path | None = None, chapters: list[str] | None = None) -> list[Path]:
    """Write <out>/<notebook>.slides.html for each notebook (of `chapters`, else all), with the
    assets beside them. Returns the slide files."""
    import nbformat
    from nbconvert import SlidesExporter

    notebooks = sorted((config.CHECKOUT_DIR / "notebooks").glob("*.ipynb"))
    if chapters:
        wanted = {c.zfill(2) for c in chapters}
        unknown = wanted - {p.name[:2] for p in notebooks}
        if unknown:
            raise WorkshopError(
                f"No notebook for chapter {', '.join(sorted(unknown))}",
                f"use one of {', '.join(p.name[:2] for p in notebooks)}",
            )
        notebooks = [p for p in notebooks if p.name[:2] in wanted]
    out = Path(out) if out else config.CHECKOUT_DIR / "build" / "slides"
    source = assets()
    local = out / ASSETS
    local.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "reveal.js" / "package", local / "reveal.js", dirs_exist_ok=True)
    shutil.copy(source / "jquery" / "package" / "dist" / "jquery.min.js", local / "jquery.min.js")
    shutil.copy(source / "requirejs" / "package" / "require.js", local / "require.js")
    (local / "mathjax-stub.js").write_text(MATHJAX_STUB)
    (local / "mermaid-stub.mjs").write_text(MERMAID_STUB)
    exporter = SlidesExporter(
        reveal_url_prefix=f"{ASSETS}/reveal.js",
        reveal_scroll=True,
        reveal_theme="white",  # its fonts are in the package (simple.css imports Google Fonts)
        jquery_url=f"{ASSETS}/jquery.min.js",
        require_js_url=f"{ASSETS}/require.js",
        mathjax_url=f"{ASSETS}/mathjax-stub.js",
        mermaid_js_url=f"./{ASSETS}/mermaid-stub.mjs",
    )
    written = []
    for path in notebooks:
        body, _ = exporter.from_notebook_node(_with_slide_metadata(nbformat.read(path, as_version=4)))
        target = out / f"{path.stem}.slides.html"
        target.write_text(body)
        written.append(target)
    return written
