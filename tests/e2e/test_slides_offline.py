"""The slides open in Chromium from the file system with every network request refused:
reveal.js starts and moves to the next slide."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_slides_render_offline(browser, tmp_path):
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the slides")
    from workshop.lessons import slides

    (page_file,) = slides.build(tmp_path, ["03"])
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    fetched = []

    def refuse(route):
        fetched.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith("file://"), refuse)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_file.as_uri())
        page.wait_for_selector(".reveal.ready", timeout=30_000)
        first = page.locator(".reveal .slides section.present").first.text_content()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(800)
        second = page.locator(".reveal .slides section.present").first.text_content()
        assert first != second, "the next slide did not come"
        assert not fetched, f"the slides asked the network for {fetched}"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()
