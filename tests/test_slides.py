"""`workshop slides`: reveal.js slides built from the notebooks, with nothing fetched from a CDN."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from workshop.lessons import slides


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs npm to build the slides (reveal.js comes from the npm registry)")
        pytest.skip("npm is not installed")
    out = tmp_path_factory.mktemp("slides")
    return out, slides.build(out, ["00", "03"])


def test_every_script_and_stylesheet_is_local(built):
    out, files = built
    assert [f.name for f in files] == ["00_setup_check.slides.html", "03_feature_flags.slides.html"]
    for page in files:
        html = page.read_text()
        loaded = re.findall(r"<(?:script|link)\b[^>]*?(?:src|href)=\"([^\"]+)\"", html)
        loaded += re.findall(r"import \w+ from '([^']+)'", html) + re.findall(r'"([^"]+\.js)"', html)
        assert loaded, f"{page.name}: no script or stylesheet found"
        remote = [url for url in loaded if re.match(r"(https?:)?//", url)]
        assert not remote, f"{page.name} fetches {remote}"
        for url in loaded:
            assert (out / url.removeprefix("./")).exists(), f"{page.name}: {url} is not beside the slides"
        assert html.count("<section") > 3, f"{page.name}: one slide per section expected"


def test_an_unknown_chapter_is_one_line(built):
    from workshop.errors import WorkshopError

    with pytest.raises(WorkshopError, match="No notebook for chapter 42"):
        slides.build(built[0], ["42"])


def test_jupyterlab_rise_presents_live_from_jupyterlab():
    """The extension behind "Render as slideshow" in JupyterLab is installed and enabled."""
    import subprocess
    import sys
    from pathlib import Path

    jupyter = Path(sys.executable).parent / "jupyter"
    listed = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120)
    line = next((line for line in (listed.stdout + listed.stderr).splitlines() if "jupyterlab-rise" in line), "")
    assert "enabled" in line and "OK" in line, f"jupyterlab-rise is not an enabled extension: {line!r}"
