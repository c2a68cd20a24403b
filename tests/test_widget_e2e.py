"""The widget in headless Chromium against a served crowdgate, from pages on another origin.

The gold key of each grid is read from the store, never from the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import (  # noqa: F401 (the *_fixture names register fixtures)
    SCREENSHOTS,
    UNKNOWN_SITEKEY,
    axe_violations,
    browser_fixture,
    demo_site_fixture,
    gate_fixture,
    host_fixture,
    open_grid,
    page_fixture,
    right_picks,
    shoot,
    token_of,
    wait_images,
    wait_text,
    wait_token,
    wrong_picks,
)
from live import call
from small_screen import OVERFLOW, PHONE

pytestmark = pytest.mark.browser


def verify(gate, token: str, secret: str | None = None) -> dict:
    form = {"secret": secret or gate.seeded.secret, "response": token}
    _, verdict = call(gate.base, "/siteverify", form=form)
    return verdict


def test_mouse_solve_posts_the_form_and_the_token_verifies_once(page, gate, demo_site):
    page.goto(demo_site + "/")
    widget = page.locator(".crowdgate")
    shoot(widget, "widget-idle")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/challenge")) as info:
        page.locator(".cg-check").click()
    challenge = info.value.json()["challenge"]
    wait_images(page, ".crowdgate")
    picks = right_picks(gate.store, challenge)
    for slot in picks:
        page.locator(".cg-tile").nth(slot).click()
    assert page.locator(".cg-tile[aria-pressed=true]").count() == len(picks)
    shoot(widget, "widget-grid")
    page.locator(".cg-verify").click()
    wait_token(page, ".crowdgate")
    assert page.locator(".cg-check").get_attribute("aria-checked") == "true"
    shoot(widget, "widget-passed")

    page.locator("#signup").click()
    page.wait_for_selector("#outcome")
    shoot(page, "demo-result")
    assert page.inner_text("#outcome").startswith("Welcome")
    assert '"success": true' in page.inner_text("#verdict")
    assert "timeout-or-duplicate" in page.inner_text("#replay")
    votes = [v for v in gate.store.list_votes(gate.seeded.project) if v.challenge == challenge]
    assert votes and page.locator("tr.voted").count() == len(votes)
    assert page.console_errors == []


def test_a_solved_captcha_takes_three_requests(page, gate, host):
    page.goto(host + "/page/basic")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.startswith(gate.base) else None)
    challenge = open_grid(page)
    for slot in right_picks(gate.store, challenge):
        page.locator(".cg-tile").nth(slot).click()
    page.locator(".cg-verify").click()
    token = wait_token(page)
    assert verify(gate, token)["success"] is True
    paths = [url[len(gate.base) :] for url in sent]
    # siteverify is the site's server's request; the page makes the other two, and no other
    assert paths == ["/api/v1/challenge", f"/api/v1/challenge/{challenge}/answer"]


@pytest.mark.parametrize("decoder", ["ImageDecoder", "createImageBitmap"])
def test_tiles_are_painted_by_either_decoder_and_the_captcha_passes(page, gate, host, decoder):
    if decoder == "createImageBitmap":
        # browsers without WebCodecs (older Firefox, Safari) take the Blob path
        page.add_init_script("delete window.ImageDecoder;")
    page.goto(host + "/page/basic")
    assert page.evaluate("typeof window.ImageDecoder") == (
        "function" if decoder == "ImageDecoder" else "undefined"
    )
    challenge = open_grid(page)  # waits until every canvas holds painted pixels
    for slot in right_picks(gate.store, challenge):
        page.locator(".cg-tile").nth(slot).click()
    page.locator(".cg-verify").click()
    assert verify(gate, wait_token(page))["success"] is True


def test_keyboard_only_solve_passes(page, gate, host):
    page.goto(host + "/page/basic")
    page.keyboard.press("Tab")
    focused = "document.activeElement.shadowRoot.activeElement.className"
    assert "cg-check" in page.evaluate(focused)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/challenge")) as info:
        page.keyboard.press("Space")
    challenge = info.value.json()["challenge"]
    wait_images(page)
    at = 0
    for slot in right_picks(gate.store, challenge):
        for _ in range(slot - at):
            page.keyboard.press("ArrowRight")
        at = slot
        page.keyboard.press("Space")
    shoot(page.locator("#one"), "widget-keyboard-selected")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert "cg-verify" in page.evaluate(focused)
    page.keyboard.press("Enter")
    wait_text(page, "#passes")
    assert page.inner_text("#passes") == "pass;"
    assert verify(gate, token_of(page))["success"] is True


def test_wrong_answer_gets_a_new_challenge_and_no_token(page, gate, host):
    page.goto(host + "/page/basic")
    first = open_grid(page)
    for slot in wrong_picks(gate.store, first):
        page.locator(".cg-tile").nth(slot).click()
    with page.expect_response(lambda r: r.url.endswith("/answer")) as info:
        page.locator(".cg-verify").click()
    verdict = info.value.json()
    assert verdict["success"] is False and "token" not in verdict
    assert verdict["next"]["challenge"] != first
    wait_images(page)
    assert "Not quite" in page.inner_text("#one .cg-status")
    assert page.locator(".cg-tile[aria-pressed=true]").count() == 0
    assert token_of(page) == "" and page.inner_text("#passes") == ""
    shoot(page.locator("#one"), "widget-failed")


def test_a_site_asking_proof_of_work_is_solved_in_the_browser_then_passes(page, gate, host):
    page.goto(host + "/page/pow")
    challenges = []
    page.on(
        "response",
        lambda r: challenges.append(r) if r.url.endswith("/api/v1/challenge") else None,
    )
    page.locator("#one .cg-check").click()
    wait_images(page)
    first, issued = challenges[0], challenges[-1]
    assert first.status == 403 and first.json()["code"] == "pow-required"
    assert len(challenges) == 2 and issued.status == 200
    proof = issued.request.post_data_json["pow"]
    assert proof["puzzle"] == first.json()["pow"]["puzzle"]
    for slot in right_picks(gate.store, issued.json()["challenge"]):
        page.locator(".cg-tile").nth(slot).click()
    page.locator(".cg-verify").click()
    wait_text(page, "#passes")
    assert verify(gate, token_of(page), gate.pow_secret)["success"] is True
    assert page.inner_text("#errors") == ""
    # Chromium logs every 4xx fetch; the puzzle's 403 is the only line, and nothing else.
    assert [e for e in page.console_errors if "status of 403" not in e] == []
    assert len(page.console_errors) == 1


def test_strict_csp_page_shows_no_violation(page, gate, host):
    response = page.goto(host + "/page/basic")
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "img-src" not in csp
    challenge = open_grid(page)
    for slot in right_picks(gate.store, challenge):
        page.locator(".cg-tile").nth(slot).click()
    page.locator(".cg-verify").click()
    wait_text(page, "#passes")
    assert page.evaluate("window.cspViolations") == []
    assert page.console_errors == []
    # The stylesheet applied: a styled checkbox is not the browser's default button.
    border = page.locator(".cg").evaluate("el => getComputedStyle(el).borderTopStyle")
    assert border != "none"


def test_two_widgets_on_one_page_work_independently(page, gate, host):
    page.goto(host + "/page/two")
    first = open_grid(page, "#one")
    for slot in right_picks(gate.store, first):
        page.locator("#one .cg-tile").nth(slot).click()
    page.locator("#one .cg-verify").click()
    wait_token(page, "#one")
    assert token_of(page, "#two") == ""
    assert page.locator("#two .cg-check").get_attribute("aria-checked") == "false"
    assert page.locator("#two .cg-panel").is_hidden()
    second = open_grid(page, "#two")
    assert second != first
    shoot(page.locator("form"), "widget-two")
    for slot in right_picks(gate.store, second):
        page.locator("#two .cg-tile").nth(slot).click()
    page.locator("#two .cg-verify").click()
    wait_token(page, "#two")
    one, two = token_of(page, "#one"), token_of(page, "#two")
    assert one != two
    assert verify(gate, one)["success"] and verify(gate, two)["success"]


def _luminance(css_rgb: str) -> float:
    r, g, b = (int(x) for x in css_rgb[css_rgb.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_theme_sets_the_widget_background(page, gate, host, theme):
    page.goto(f"{host}/page/basic?theme={theme}")
    open_grid(page)
    background = page.locator(".cg").evaluate("el => getComputedStyle(el).backgroundColor")
    text = page.locator(".cg-prompt").evaluate("el => getComputedStyle(el).color")
    if theme == "dark":
        assert _luminance(background) < 0.25 < _luminance(text)
    else:
        assert _luminance(background) > 0.75 > _luminance(text)
    shoot(page.locator("#one"), f"widget-grid-{theme}")


def test_unknown_sitekey_shows_an_error_and_calls_the_error_callback(page, host):
    page.goto(host + "/page/unknown")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/challenge")) as info:
        page.locator(".cg-check").click()
    assert info.value.status == 404
    wait_text(page, "#errors")
    assert page.inner_text("#errors") == "unknown-sitekey"
    status = page.inner_text("#one .cg-status")
    assert "unknown-sitekey" in status
    assert page.locator("#one .cg-retry").is_visible()
    assert UNKNOWN_SITEKEY not in token_of(page)
    shoot(page.locator("#one"), "widget-error")


def _focused_class(page) -> str:
    return page.evaluate("document.activeElement.shadowRoot.activeElement.className")


def test_keyboard_alone_takes_the_path_without_images_and_its_token_verifies_once(page, gate, host):
    votes_before = len(gate.store.list_votes(gate.seeded.project))
    page.goto(host + "/page/basic")
    page.keyboard.press("Tab")
    assert "cg-check" in _focused_class(page)
    page.keyboard.press("Space")
    wait_images(page)
    hint = page.locator("#one .cg-grid").get_attribute("aria-describedby")
    assert "Check without images" in page.locator(f"#one #{hint}").text_content()
    for _ in range(3):  # tiles, New challenge, Verify, then the path without images
        page.keyboard.press("Tab")
    assert "cg-alt" in _focused_class(page)
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/alternative" in r.url else None)
    page.keyboard.press("Enter")
    # announced in the live region while the browser works; focus stays in the widget
    assert "Checking without images" in page.inner_text("#one .cg-status")
    assert "cg-check" in _focused_class(page)
    page.wait_for_function(
        "() => document.querySelector('#one input[name=crowdgate-response]').value",
        timeout=120_000,
    )
    assert page.locator("#one .cg-check").get_attribute("aria-checked") == "true"
    assert page.inner_text("#passes") == "pass;" and page.inner_text("#errors") == ""
    assert len(sent) == 2, "one puzzle, one redemption"
    token = token_of(page)
    first = verify(gate, token)
    assert first["success"] is True and first["path"] == "alternative"
    assert verify(gate, token)["error-codes"] == ["timeout-or-duplicate"]
    assert len(gate.store.list_votes(gate.seeded.project)) == votes_before, "it cast no votes"
    assert page.evaluate("window.cspViolations") == []
    shoot(page.locator("#one"), "widget-alternative-passed")


def test_axe_core_finds_no_violation_idle_with_the_grid_and_on_the_alternative(page, gate, host):
    page.goto(host + "/page/basic")
    assert axe_violations(page, host) == [], "idle"
    open_grid(page)
    assert axe_violations(page, host) == [], "grid"

    # Hold the widget in the alternative state: this puzzle needs 2**24 hashes (minutes).
    def slow_puzzle(route) -> None:
        headers = {"Access-Control-Allow-Origin": host, "Content-Type": "application/json"}
        body = '{"puzzle": "held.open", "bits": 24, "expires_in": 300}'
        route.fulfill(status=200, headers=headers, body=body)

    page.route("**/api/v1/alternative", slow_puzzle)
    page.locator("#one .cg-alt").click()
    page.wait_for_function(
        """() => document.querySelector('#one crowdgate-widget').shadowRoot
             .querySelector('.cg-status').textContent.includes('without images')"""
    )
    shoot(page.locator("#one"), "widget-alternative")
    assert axe_violations(page, host) == [], "alternative"
    assert page.evaluate("window.cspViolations") == []


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


def test_demo_signup_page_fits_a_360px_screen_with_the_grid_open(phone, demo_site):
    phone.goto(demo_site + "/")
    phone.wait_for_selector(".crowdgate crowdgate-widget")
    assert phone.evaluate(OVERFLOW) == []
    phone.screenshot(path=str(_shot("demo-360")), full_page=True)
    phone.locator(".crowdgate .cg-check").click()
    wait_images(phone, ".crowdgate")
    assert phone.evaluate(OVERFLOW) == []
    widget = phone.locator(".crowdgate crowdgate-widget").bounding_box()
    card = phone.locator("form.card").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]
    assert widget["x"] >= card["x"] and widget["x"] + widget["width"] <= card["x"] + card["width"]
    phone.screenshot(path=str(_shot("demo-360-grid")), full_page=True)


def _shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
