"""The command line is scriptable: --json documents, one-line errors, exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crowdgate.cli import main
from seed import shape_png


@pytest.fixture
def run(backend, request, tmp_path):
    from conftest import store_uri

    env = {
        "CROWDGATE_STORE": store_uri(backend, request, tmp_path),
        "CROWDGATE_SECRET_KEY": "cli-test",
        "CROWDGATE_DATA_DIR": str(tmp_path),
    }
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_create_and_list_commands_print_one_json_document(run):
    project = json.loads(run("project", "create", "pets", "--labels", "cat,dog", "--json").stdout)
    assert project["id"] == "pets" and project["labels"] == ["cat", "dog"]
    listed = json.loads(run("project", "list", "--json").stdout)
    assert [p["id"] for p in listed["projects"]] == ["pets"]
    site = json.loads(
        run(
            "site",
            "create",
            "--name",
            "shop",
            "--hostnames",
            "shop.example",
            "--project",
            "pets",
            "--json",
        ).stdout
    )
    assert site["secret"].startswith("0x") and "secret_hash" not in site
    sites = json.loads(run("site", "list", "--json").stdout)["sites"]
    assert [s["sitekey"] for s in sites] == [site["sitekey"]] and "secret" not in sites[0]
    rotated = json.loads(run("site", "rotate-secret", site["sitekey"], "--json").stdout)
    assert rotated["secret"] != site["secret"]
    key = json.loads(run("apikey", "create", "--name", "ci", "--json").stdout)
    assert key["key"].startswith("cgk_")
    assert json.loads(run("apikey", "list", "--json").stdout)["keys"][0]["revoked"] is False
    run("apikey", "revoke", key["id"])
    assert json.loads(run("apikey", "list", "--json").stdout)["keys"][0]["revoked"] is True


def test_import_reports_each_refused_file_and_counts(run, tmp_path):
    run("project", "create", "shapes", "--labels", "circle,square")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(shape_png("circle", 1))
    (folder / "b.png").write_bytes(shape_png("square", 2))
    (folder / "dup.png").write_bytes(shape_png("circle", 1))
    (folder / "notes.png").write_bytes(b"not an image")
    result = run("import", "shapes", str(folder))
    assert "added 2, duplicates 1, refused 1" in result.stdout
    assert "notes.png" in result.stderr and "not-an-image" in result.stderr
    report = json.loads(run("import", "shapes", str(folder), "--json").stdout)
    assert report["added"] == 0 and report["duplicates"] == 3
    run("import", "shapes", str(folder), "--strict", code=1)


@pytest.mark.parametrize(
    "args",
    [
        ("project", "create", "Bad Id", "--labels", "a,b"),
        ("project", "create", "ok", "--labels", "a"),
        ("site", "create", "--name", "x", "--hostnames", "x.example", "--project", "missing"),
        ("site", "rotate-secret", "no-such-sitekey"),
        ("apikey", "revoke", "nope"),
        ("import", "missing", "."),
    ],
    ids=[
        "bad-id",
        "one-label",
        "unknown-project",
        "unknown-site",
        "unknown-key",
        "import-unknown-project",
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_code_2(run, args):
    result = run(*args, code=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.output
