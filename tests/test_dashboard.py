"""The dashboard through Flask's test client: sign-in, CSRF, cookies and every page with data."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest

from crowdgate import manage
from export_data import labeled_project
from seed import seed_project, shape_png

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/dashboard/login") -> str:
    with client.get(path) as page:
        return TOKEN_RE.search(page.get_data(as_text=True)).group(1)


@pytest.fixture
def bearer(app_store) -> str:
    return manage.create_apikey(app_store, "dashboard")[1]


@pytest.fixture
def signed_in(client, app_store, bearer):
    labeled_project(app_store)
    reply = client.post("/dashboard/login", data={"key": bearer, "csrf_token": csrf(client)})
    assert reply.status_code == 302 and reply.headers["Location"] == "/dashboard/"
    return client


def test_pages_need_a_sign_in(client):
    reply = client.get("/dashboard/projects/shapes")
    assert reply.status_code == 302 and reply.headers["Location"] == "/dashboard/login"


def test_a_wrong_key_cannot_sign_in(client, bearer):
    reply = client.post("/dashboard/login", data={"key": "cgk_wrong", "csrf_token": csrf(client)})
    assert reply.status_code == 401 and "not a valid admin API key" in reply.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(signed_in):
    reply = signed_in.post("/dashboard/projects", data={"id": "pets", "labels": "cat,dog"})
    assert reply.status_code == 403 and "security token" in reply.get_data(as_text=True)
    forged = signed_in.post(
        "/dashboard/projects", data={"id": "pets", "labels": "cat,dog", "csrf_token": "guess"}
    )
    assert forged.status_code == 403


def test_a_cross_origin_post_is_refused_even_with_the_token(signed_in):
    token = csrf(signed_in, "/dashboard/")
    reply = signed_in.post(
        "/dashboard/projects",
        data={"id": "pets", "labels": "cat,dog", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert reply.status_code == 403


def test_login_without_the_csrf_token_is_refused(client, bearer):
    assert client.post("/dashboard/login", data={"key": bearer}).status_code == 403


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [("http://localhost", False), ("https://localhost", True)],
    ids=["http", "https"],
)
def test_session_cookie_is_httponly_strict_and_secure_over_https(client, bearer, base_url, secure):
    token = csrf(client)
    reply = client.post(
        "/dashboard/login", data={"key": bearer, "csrf_token": token}, base_url=base_url
    )
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert ("Secure" in cookie) is secure
    assert bearer not in cookie


def test_revoking_the_key_ends_the_session(signed_in, app_store):
    key = next(k for k in app_store.list_apikeys() if k.name == "dashboard")
    app_store.revoke_apikey(key.id)
    assert signed_in.get("/dashboard/").status_code == 302


@pytest.mark.parametrize(
    ("path", "needles"),
    [
        ("/dashboard/", ["shapes", "circle, square, triangle", "New project"]),
        (
            "/dashboard/projects/shapes",
            [
                "Settled labels per class",
                "Settled labels over time",
                "Votes per day",
                "Committee accuracy per model version",
                "Consensus confidence of settled items",
                "in progress",
                "<svg",
                "Download",
            ],
        ),
        ("/dashboard/projects/shapes/items", ["42 items", "data:image/webp;base64,", "gold"]),
        ("/dashboard/projects/shapes/items?state=settled&min_confidence=0.9", ["2 items"]),
        ("/dashboard/projects/shapes/items?label=circle&state=gold", ["4 items"]),
        ("/dashboard/sites", ["Shop", "shop.example", "Rotate secret"]),
        ("/dashboard/keys", ["dashboard", "active", "Revoke"]),
    ],
    ids=["projects", "project", "items", "items-filtered", "items-by-label", "sites", "keys"],
)
def test_each_page_renders_with_data_under_a_strict_csp(signed_in, path, needles):
    reply = signed_in.get(path)
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200, html
    for needle in needles:
        assert needle in html
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script" not in html and "style=" not in html


def test_project_page_charts_show_model_accuracy_and_pass_rate(signed_in, app_store):
    app_store.incr_stats("shapes", challenges_issued=4, challenges_passed=3)
    html = signed_in.get("/dashboard/projects/shapes").get_data(as_text=True)
    assert "v1: 0.8<" in html and "v2: 0.9<" in html and "75%" in html


def test_items_are_paged(signed_in, app_store):
    labeled_project(app_store, pid="many", open_items=60)
    first = signed_in.get("/dashboard/projects/many/items").get_data(as_text=True)
    # pages by key: the next page is the one the pager links to
    link = re.search(r'href="([^"]+)" rel="next"', first)
    second = signed_in.get(unescape(link.group(1))).get_data(as_text=True)
    assert "page 1 of 2" in first and first.count('class="item"') == 48
    assert "page 2 of 2" in second and second.count('class="item"') == 72 - 48
    assert 'rel="next"' not in second and "first page" in second
    ids = re.findall(r'title="([0-9a-f]{64})"', first + second)
    assert len(set(ids)) == 72


def test_pager_links_carry_only_the_filters(signed_in, app_store):
    labeled_project(app_store, pid="many", open_items=60)
    html = signed_in.get(
        "/dashboard/projects/many/items?min_confidence=0&_anchor=x&_external=1&_scheme=https"
    ).get_data(as_text=True)
    assert "page=2" in html and "min_confidence=0" in html
    assert "#x" not in html and "http://localhost/dashboard" not in html and "_anchor" not in html


def test_create_project_site_rotate_and_keys(signed_in, app_store):
    token = csrf(signed_in, "/dashboard/")
    reply = signed_in.post(
        "/dashboard/projects", data={"id": "pets", "labels": "cat,dog", "csrf_token": token}
    )
    assert reply.status_code == 302 and app_store.get_project("pets").labels == ["cat", "dog"]
    html = signed_in.post(
        "/dashboard/sites",
        data={"name": "Pets", "hostnames": "pets.example", "project": "pets", "csrf_token": token},
    ).get_data(as_text=True)
    sitekey = re.search(r'class="sitekey">([^<]+)<', html).group(1)
    secret = re.search(r'class="secret">([^<]+)<', html).group(1)
    assert f'data-sitekey="{sitekey}"' in html and "/widget.js" in html
    rotated = signed_in.post(f"/dashboard/sites/{sitekey}/rotate", data={"csrf_token": token})
    new_secret = re.search(r'class="secret">([^<]+)<', rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret
    made = signed_in.post("/dashboard/keys", data={"name": "ci", "csrf_token": token})
    key = re.search(r'class="secret">([^<]+)<', made.get_data(as_text=True)).group(1)
    assert manage.authenticate(app_store, key).name == "ci"


def test_a_site_made_on_the_dashboard_can_ask_proof_of_work(signed_in, app_store):
    token = csrf(signed_in, "/dashboard/")
    signed_in.post("/dashboard/projects", data={"id": "pets", "labels": "a,b", "csrf_token": token})
    form = {"name": "P", "hostnames": "p.example", "project": "pets", "csrf_token": token}
    html = signed_in.post("/dashboard/sites", data={**form, "pow_bits": "12"}).get_data(True)
    sitekey = re.search(r'class="sitekey">([^<]+)<', html).group(1)
    assert app_store.get_site(sitekey).pow_bits == 12
    assert '<span class="pow-now">12 bits</span>' in html
    bad = signed_in.post("/dashboard/sites", data={**form, "pow_bits": "x"})
    assert bad.status_code == 400 and "invalid-pow-bits" in bad.get_data(as_text=True)


def test_a_sites_proof_of_work_is_changed_on_the_dashboard(signed_in, app_store):
    seeded = seed_project(app_store, pid="gated")
    token = csrf(signed_in, "/dashboard/")
    path = f"/dashboard/sites/{seeded.sitekey}/pow"
    moved = signed_in.post(path, data={"pow_bits": "16", "csrf_token": token})
    assert moved.status_code == 302 and app_store.get_site(seeded.sitekey).pow_bits == 16
    page = signed_in.get("/dashboard/sites").get_data(as_text=True)
    assert '<span class="pow-now">16 bits</span>' in page
    signed_in.post(path, data={"pow_bits": "0", "csrf_token": token})
    assert app_store.get_site(seeded.sitekey).pow_bits == 0
    too_hard = signed_in.post(path, data={"pow_bits": "40", "csrf_token": token})
    assert too_hard.status_code == 400 and "invalid-pow-bits" in too_hard.get_data(as_text=True)
    assert signed_in.post(path, data={"pow_bits": "8"}).status_code == 403, "no CSRF token"
    assert app_store.get_site(seeded.sitekey).pow_bits == 0
    unknown = {"pow_bits": "8", "csrf_token": token}
    assert signed_in.post("/dashboard/sites/nope/pow", data=unknown).status_code == 404


def test_bad_form_input_shows_the_reason(signed_in):
    token = csrf(signed_in, "/dashboard/")
    reply = signed_in.post(
        "/dashboard/projects", data={"id": "Bad Id", "labels": "a,b", "csrf_token": token}
    )
    assert reply.status_code == 400 and "invalid-project-id" in reply.get_data(as_text=True)


def test_upload_imports_images_and_shows_the_per_file_report(signed_in, app_store):
    token = csrf(signed_in, "/dashboard/")
    files = [
        (io.BytesIO(shape_png("circle", 900)), "a.png"),
        (io.BytesIO(b"not an image"), "broken.png"),
    ]
    reply = signed_in.post(
        "/dashboard/projects/shapes/import",
        data={"csrf_token": token, "file": files},
        content_type="multipart/form-data",
    )
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "added 1" in html and "refused 1" in html
    assert "broken.png" in html


def test_export_download_from_the_dashboard(signed_in):
    with signed_in.get("/dashboard/projects/shapes/export?format=jsonl&committee=1") as reply:
        assert reply.status_code == 200
        assert len(reply.get_data().splitlines()) == 12 + 10 + 10


def _walk(client, url: str) -> tuple[list[str], list[str]]:
    """Follow an item browser's next links from ``url``; return item ids and page headers."""
    ids, heads = [], []
    while url:
        page = client.get(url).get_data(as_text=True)
        ids += re.findall(r'title="([0-9a-f]{64})"', page)
        heads += re.findall(r"<p>(page [^<]*|\d+ items?[^<]*)</p>", page)
        link = re.search(r'href="([^"]+)" rel="next"', page)
        url = unescape(link.group(1)) if link else ""
    return ids, heads


def test_filtered_pages_read_a_bounded_slice_and_together_show_every_match(
    signed_in, app_store, monkeypatch
):
    from crowdgate.export import ExportOptions, record_of
    from crowdgate.web.dashboard import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 4)
    monkeypatch.setattr(pages, "SCAN_BATCH", 3)
    monkeypatch.setattr(pages, "SCAN_BUDGET", 6)
    reads = []
    real = app_store.page_items
    monkeypatch.setattr(
        app_store, "page_items", lambda *a, **k: reads.append(k["limit"]) or real(*a, **k)
    )
    machine = ExportOptions(include_committee=True)
    want = [
        item.id
        for item in app_store.iter_items("shapes")
        if (r := record_of(item, machine)) is not None and r.confidence >= 0.5
    ]
    ids, heads = _walk(signed_in, "/dashboard/projects/shapes/items?min_confidence=0.5")
    assert ids == want and len(want) > 8
    # no page read more than the budget (two batches of three), whatever the project size
    assert max(reads) == 3 and len(reads) <= 2 * len(heads)
    assert heads[0].startswith("page 1 · ") and "more may match" in heads[0]


def test_project_page_numbers_equal_a_scan_of_the_project(app_store):
    from collections import Counter

    from crowdgate.models import SETTLED, UNLABELED, TokenRecord, Vote
    from crowdgate.store.counters import confidence_bin, day_of
    from crowdgate.web.dashboard.stats import project_stats

    labeled = labeled_project(app_store)
    for k, voter in enumerate(["a", "b", "c"]):
        ts = 1_700_000_000.0 + 86_400 * k
        token = TokenRecord(f"shapes.t{k}", "sk", "shop.example", "shapes", ts, ts + 120)
        votes = [
            Vote("shapes", item, "circle", True, voter, "net-" + voter, "shapes.c", 1.0, ts)
            for item in sorted(labeled.open_only)[k : k + 4]
        ]
        app_store.record_pass("shapes", votes, token, vote_cap=5)
    project = app_store.get_project("shapes")
    stats = project_stats(app_store, project)
    items = list(app_store.iter_items("shapes"))
    settled = [i for i in items if i.state == SETTLED]
    assert stats.counts["in progress"] == sum(i.state == UNLABELED and i.votes > 0 for i in items)
    assert sum(stats.counts.values()) == len(items)
    assert stats.per_class == {
        **{label: 0 for label in project.labels},
        **Counter(i.label for i in settled),
    }
    bins = Counter(confidence_bin(i.confidence) for i in settled if i.confidence is not None)
    assert stats.confidence_bins == [bins[b] for b in range(len(stats.confidence_bins))]
    votes = Counter(day_of(v.ts) for v in app_store.list_votes("shapes"))
    assert stats.votes_by_day == sorted(votes.items()) and votes
    days = Counter(day_of(i.settled_at) for i in settled if i.settled_at)
    assert stats.settled_by_day[-1][1] == sum(days.values()) and days


def test_project_and_item_pages_read_no_more_items_than_a_page(signed_in, app_store, monkeypatch):
    from crowdgate.web.dashboard import pages

    labeled_project(app_store, pid="many", open_items=300)
    read = {"items": 0, "votes": 0}

    def counting(name, what):
        real = getattr(app_store, name)

        def call(*args, **kwargs):
            out = real(*args, **kwargs)
            if name == "iter_items":
                out = list(out)
            read[what] += len(out.items if name == "page_items" else out)
            return out

        monkeypatch.setattr(app_store, name, call)

    for name, what in (
        ("iter_items", "items"),
        ("page_items", "items"),
        ("list_items", "items"),
        ("list_votes", "votes"),
    ):
        counting(name, what)
    assert signed_in.get("/dashboard/projects/many").status_code == 200
    assert read == {"items": 0, "votes": 0}
    assert signed_in.get("/dashboard/projects/many/items?state=unlabeled").status_code == 200
    assert read["items"] == pages.PAGE_SIZE
    monkeypatch.setattr(pages, "SCAN_BUDGET", 100)
    read["items"] = 0
    signed_in.get("/dashboard/projects/many/items?label=circle&min_confidence=0.99")
    assert 0 < read["items"] <= 100
