"""What a 360 px phone screen is, and the check that nothing runs past it or its card."""

from __future__ import annotations

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
