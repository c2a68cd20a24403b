"""The dashboard in real headless Chromium: sign in, create, upload, charts, items, exports."""

from __future__ import annotations

import json
import zipfile

import pytest

from crowdgate import manage
from dashboard_browser import chromium, live_url, screenshot  # noqa: F401  (fixtures)
from export_data import labeled_project
from seed import shape_png
from small_screen import OVERFLOW, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


@pytest.fixture
def page(chromium, live_url):  # noqa: F811
    context = chromium.new_context(base_url=live_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico")
            and page.problems.append(m.text)
        ),
    )
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def sign_in(page, key: str) -> None:
    page.goto("/dashboard/")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")


def test_wrong_key_cannot_sign_in(page, app_store):
    manage.create_apikey(app_store, "dashboard")
    sign_in(page, "cgk_not_a_key")
    assert page.url.endswith("/dashboard/login")
    assert "not a valid admin API key" in page.inner_text("[role=alert]")
    page.goto("/dashboard/keys")
    assert page.url.endswith("/dashboard/login")


def test_a_post_without_csrf_token_is_refused(page, app_store):
    _, key = manage.create_apikey(app_store, "dashboard")
    sign_in(page, key)
    status = page.evaluate(
        "fetch('/dashboard/projects', {method: 'POST', body: new URLSearchParams("
        "{id: 'forged', labels: 'a,b'})}).then(r => r.status)"
    )
    assert status == 403 and app_store.get_project("forged") is None


def test_owner_walkthrough(page, app_store, tmp_path):
    labeled_project(app_store)
    app_store.incr_stats("shapes", challenges_issued=10, challenges_passed=7)
    _, key = manage.create_apikey(app_store, "dashboard")
    page.goto("/dashboard/")
    screenshot(page, "login")
    sign_in(page, key)
    assert page.url.endswith("/dashboard/")

    page.fill("input[name=id]", "pets")
    page.fill("input[name=labels]", "cat,dog")
    page.click("text=Create project")
    assert page.url.endswith("/dashboard/projects/pets")
    images = []
    for n in range(3):
        path = tmp_path / f"pet{n}.png"
        path.write_bytes(shape_png("circle", 500 + n))
        images.append(str(path))
    page.set_input_files("input[name=file]", images)
    page.click("text=Upload")
    assert "added 3, duplicates 0, refused 0" in page.inner_text(".summary")
    screenshot(page, "import-report")

    page.goto("/dashboard/")
    screenshot(page, "projects")
    page.click("text=shapes >> nth=0")
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    titles = [charts.nth(k).get_attribute("aria-label") for k in range(5)]
    assert "Committee accuracy per model version" in titles
    assert page.locator("svg.chart rect").count() > 5
    assert "70%" in page.inner_text(".tiles")
    screenshot(page, "project")

    for fmt in ("csv", "jsonl", "imagefolder", "labelstudio"):
        page.select_option("select[name=format]", fmt)
        page.check("input[name=committee]")
        with page.expect_download() as info:
            page.click("text=Download")
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        if fmt == "imagefolder":
            with zipfile.ZipFile(saved) as z:
                assert "train/metadata.jsonl" in z.namelist()
        elif fmt == "labelstudio":
            assert len(json.loads(saved.read_text())) == 32
        else:
            assert len(saved.read_text().splitlines()) == 32 + (fmt == "csv")

    page.click("text=Browse items")
    page.select_option("select[name=state]", "settled")
    page.click("text=Filter")
    assert "10 items" in page.inner_text("main")
    page.goto("/dashboard/projects/shapes/items")
    assert page.locator("li.item img").count() == 42
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "items")

    page.click("text=Sites")
    page.fill("input[name=name]", "Pets shop")
    page.fill("input[name=hostnames]", "pets.example")
    page.select_option("select[name=project]", "pets")
    page.click("text=Create site")
    sitekey = page.inner_text("code.sitekey")
    assert f'data-sitekey="{sitekey}"' in page.inner_text("pre.snippet")
    screenshot(page, "sites")
    page.click("text=API keys")
    page.fill("input[name=name]", "ci")
    page.click("text=Create key")
    assert page.inner_text("code.secret").startswith("cgk_")
    screenshot(page, "keys")
    assert page.problems == []


def test_every_dashboard_page_fits_a_360px_screen(chromium, live_url, app_store):  # noqa: F811
    labeled_project(app_store)
    manage.create_site(app_store, name="Shop", hostnames=["shop.example"], project="shapes")
    _, key = manage.create_apikey(app_store, "phone")
    context = chromium.new_context(base_url=live_url, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        page.goto("/dashboard/login")
        assert page.evaluate(OVERFLOW) == []
        screenshot(page, "360-login")
        page.fill("input[name=key]", key)
        page.click("button[type=submit]")
        for name, path in [
            ("projects", "/dashboard/"),
            ("project", "/dashboard/projects/shapes"),
            ("items", "/dashboard/projects/shapes/items"),
            ("sites", "/dashboard/sites"),
            ("keys", "/dashboard/keys"),
        ]:
            page.goto(path)
            assert page.url.endswith(path), page.url
            assert page.evaluate(OVERFLOW) == [], name
            screenshot(page, f"360-{name}")
    finally:
        context.close()
