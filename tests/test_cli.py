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

    invoke.env = env
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


def test_import_with_an_embeddings_file_stores_its_vectors(run, tmp_path, monkeypatch):
    # the command once imported load_embeddings from the wrong module and failed on any file
    import numpy as np

    from crowdgate.cli.common import load_settings, store_for

    run("project", "create", "shapes", "--labels", "circle,square")
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a.png", "b.png", "c.png"]
    for n, name in enumerate(names):
        (folder / name).write_bytes(shape_png("circle" if n % 2 else "square", n))
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.savez(tmp_path / "vec.npz", names=np.array(names), vectors=vectors)
    report = json.loads(
        run(
            "import", "shapes", str(folder), "--embeddings", str(tmp_path / "vec.npz"), "--json"
        ).stdout
    )
    assert report["added"] == 3 and report["rejected"] == 0
    for key, value in run.env.items():
        monkeypatch.setenv(key, value)
    store = store_for(load_settings(None))
    try:
        items = {i.filename: i.id for i in store.list_items("shapes", limit=10)}
        stored = store.get_features("shapes", list(items.values()))
        for row, name in enumerate(names):
            assert np.array_equal(stored[items[name]], vectors[row])
    finally:
        store.close()


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


# Libraries a command must not load unless running it needs them (each costs 0.1 to 1.5 s).
HEAVY = ("sklearn", "scipy", "flask", "flask_limiter", "gunicorn", "numpy", "PIL", "redis")

PROBE = """
import json, sys
from crowdgate.cli import COMMANDS, main

def help_of(args):
    before = set(sys.modules)
    try:
        main([*args, "--help"], standalone_mode=False)
    except SystemExit:
        pass
    return sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY))

report = {"": help_of([])}
for name in COMMANDS:
    report[name] = help_of([name])
    command = main.get_command(None, name)
    for sub in getattr(command, "commands", {}):
        report[f"{name} {sub}"] = help_of([name, sub])
print(json.dumps(report))
"""


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_of_every_command_loads_no_heavy_library():
    report = json.loads(_python(f"HEAVY = {HEAVY!r}\n{PROBE}").splitlines()[-1])
    assert len(report) > 12  # the group, every command and every subcommand
    assert {command: loaded for command, loaded in report.items() if loaded} == {}


RUN_PROBE = """
import sys
from crowdgate.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
print(" ".join(sorted(m for m in ("sklearn", "flask", "gunicorn") if m in sys.modules)))
"""


def test_admin_and_aggregate_commands_run_without_scikit_learn_or_flask(tmp_path):
    env = {"CROWDGATE_DATA_DIR": str(tmp_path), "CROWDGATE_SECRET_KEY": "cli-test"}
    env["CROWDGATE_STORE"] = f"sqlite:///{tmp_path / 'crowdgate.db'}"
    answers = tmp_path / "answers.csv"
    answers.write_text("task,worker,label\nt1,w1,cat\nt1,w2,cat\nt2,w1,dog\n")
    for args in (
        ("project", "create", "pets", "--labels", "cat,dog"),
        ("project", "list"),
        ("site", "create", "--name", "s", "--hostnames", "s.example", "--project", "pets"),
        ("apikey", "create", "--name", "ci"),
        ("aggregate", str(answers), "-o", str(tmp_path / "labels.csv")),
    ):
        assert _python(RUN_PROBE, *args, env=env).splitlines()[-1] == "", args


def test_names_spelled_out_for_a_fast_help_match_the_libraries():
    from crowdgate.aggregation import AGGREGATORS, DEFAULT_METHOD
    from crowdgate.cli import COMMANDS, aggregate, export, main, simulate
    from crowdgate.export import DEFAULT_IMAGE_URL, FORMATS
    from crowdgate.simulate import DEFAULT_MIX

    assert tuple(sorted(AGGREGATORS)) == aggregate.METHODS, "add the new method to METHODS"
    assert aggregate.aggregate.params[1].default == DEFAULT_METHOD
    from crowdgate.simulate.attackers import ATTACKS

    assert ATTACKS == simulate.ATTACKS, "add the new attack to cli/simulate.py's ATTACKS"
    assert tuple(FORMATS) == export.FORMAT_NAMES and export.DEFAULT_IMAGE_URL == DEFAULT_IMAGE_URL
    assert ",".join(f"{k}={v:g}" for k, v in DEFAULT_MIX.items()) == simulate.DEFAULT_MIX_TEXT
    assert all(main.get_command(None, name).name == name for name in COMMANDS)


def test_the_group_help_lists_what_the_commands_themselves_say():
    import click

    from crowdgate.cli import COMMANDS, main

    eager = click.Group("crowdgate", help=main.help)
    for name in COMMANDS:
        eager.add_command(main.get_command(None, name))
    runner = CliRunner()
    listed = runner.invoke(main, ["--help"]).stdout.split("Commands:")[1]
    assert listed == runner.invoke(eager, ["--help"]).stdout.split("Commands:")[1]
