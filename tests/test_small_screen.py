"""The demo page on a 360 px wide phone screen, in headless Chromium (dashboard: its own file).

Nothing may run past the screen's edge, and every form control and the widget stay inside the
card that holds them. Screenshots at 360 px go to tests/_artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import (  # noqa: F401 (the *_fixture names register fixtures)
    SCREENSHOTS,
    browser_fixture,
    demo_site_fixture,
    gate_fixture,
    wait_images,
)

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}

#: elements wider than the screen, or sticking out of the card/main that holds them
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  if (document.documentElement.scrollWidth > width) {
    bad.push("page scrolls sideways: " + document.documentElement.scrollWidth);
  }
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || getComputedStyle(el).visibility === "hidden") continue;
    let clip = el.parentElement;  // inside a scrolling box (a wide table) is fine
    let scrolled = false;
    while (clip) {
      const o = getComputedStyle(clip).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") { scrolled = true; break; }
      clip = clip.parentElement;
    }
    if (scrolled) continue;
    const holder = el.parentElement.closest(".card, main, header, footer, nav");
    const outer = holder ? holder.getBoundingClientRect() : {left: 0, right: width};
    if (box.right > Math.min(width, outer.right) + 0.5
        || box.left < Math.max(0, outer.left) - 0.5) {
      bad.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className
        + " " + Math.round(box.left) + ".." + Math.round(box.right));
    }
  }
  return bad;
}"""


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
