"""Bundle the widget sources into one IIFE, with Python only (no Node needed).

Usage: ``python widget_js/build.py [--check]``. Writes ``service/crowdgate/web/static/widget.js``
(or, with ``--check``, only compares it) and prints the raw and gzipped sizes and the SRI hash.

This is a deliberately tiny module wrapper, not a general bundler. The sources in ``MODULES`` are
ES modules (so Node's test runner and ``// @ts-check`` see real imports) restricted to:

* imports written on one line as ``import { a, b } from "./name.js";``;
* exports written as ``export`` in front of ``function``, ``async function``, ``class``,
  ``const`` or ``let``.

Anything else (``export default``, ``export { ... }``, ``import * as``, renames) is an error.
Each module becomes ``const __cg_name = (function () { ...; return { exports }; })();`` inside
one strict IIFE, its imports become destructuring of the modules built before it, and the bundle
ends by calling ``install(window, document.currentScript)`` while the script is still current.

Minification is conservative and line-based: whole-line ``//`` comments, whole-line ``/* */``
blocks, indentation and blank lines are dropped, except inside template literals (tracked by
counting backticks on code lines; a trailing comment that holds a backtick is rejected).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
OUTPUT = ROOT.parent / "service" / "crowdgate" / "web" / "static" / "widget.js"
MODULES = ("i18n", "api", "pow", "tiles", "style", "machine", "dom", "main")
ENTRY = "main"
VERSION = "0.1.0"
MAX_GZIP_BYTES = 15 * 1024

IMPORT = re.compile(r'^import \{([\w$,\s]+)\} from "\./([\w-]+)\.js";$')
EXPORT = re.compile(r"^export (?:async function\*?|function\*?|class|const|let) ([\w$]+)")
HEADER = (
    f"/*! crowdgate widget {VERSION} | Apache-2.0 | "
    "built from widget_js/src by widget_js/build.py */\n"
)


class BuildError(Exception):
    """A source file uses syntax the wrapper does not support."""


def _strip(lines: list[str], name: str) -> list[str]:
    """Drop comment-only lines, indentation and blank lines outside template literals."""
    out: list[str] = []
    in_template = False
    in_block = False
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if in_template:
            out.append(line)
        elif in_block:
            in_block = "*/" not in text
            continue
        elif not text or text.startswith("//"):
            continue
        elif text.startswith("/*") and "*/" not in text:
            in_block = True
            continue
        elif text.startswith("/*") and not text.split("*/", 1)[1].strip():
            continue
        else:
            out.append(text)
        code = line.split(" // ", 1)
        if len(code) == 2 and "`" in code[1]:
            raise BuildError(f"{name}.js:{number}: move the backtick out of the trailing comment.")
        if line.count("`") % 2:
            in_template = not in_template
    if in_template:
        raise BuildError(f"{name}.js: a template literal is not closed.")
    return out


def _wrap(name: str, source: str, built: set[str]) -> str:
    """Turn one restricted ES module into a function expression returning its exports."""
    exports: list[str] = []
    body: list[str] = []
    for number, line in enumerate(source.splitlines(), 1):
        if line.startswith("import"):
            match = IMPORT.match(line)
            if not match or match.group(2) not in built:
                raise BuildError(f"{name}.js:{number}: unsupported or out-of-order import.")
            names = ", ".join(n.strip() for n in match.group(1).split(",") if n.strip())
            body.append(f"const {{ {names} }} = __cg_{match.group(2)};")
        elif line.startswith("export"):
            match = EXPORT.match(line)
            if not match:
                raise BuildError(f"{name}.js:{number}: unsupported export form.")
            exports.append(match.group(1))
            body.append(line[len("export ") :])
        else:
            body.append(line)
    code = "\n".join(_strip(body, name))
    names = ", ".join(exports)
    return f"const __cg_{name} = (function () {{\n{code}\nreturn {{ {names} }};\n}})();"


def build(src: Path = SRC) -> str:
    """Return the bundle text.

    Parameters
    ----------
    src : Path
        Folder holding the modules listed in ``MODULES``.

    Returns
    -------
    str
        The bundle, an IIFE ending in a newline.

    Raises
    ------
    BuildError
        If a source uses an import or export form the wrapper does not support.
    """
    built: set[str] = set()
    parts = []
    for name in MODULES:
        parts.append(_wrap(name, (src / f"{name}.js").read_text(encoding="utf-8"), built))
        built.add(name)
    boot = f"__cg_{ENTRY}.install(window, document.currentScript);"
    return HEADER + '(function () {\n"use strict";\n' + "\n".join(parts) + f"\n{boot}\n}})();\n"


def sizes(bundle: bytes) -> tuple[int, int, str]:
    """Return the raw size, the gzipped size (level 9) in bytes and the sha384 SRI hash."""
    gz = len(gzip.compress(bundle, compresslevel=9, mtime=0))
    sri = "sha384-" + base64.b64encode(hashlib.sha384(bundle).digest()).decode("ascii")
    return len(bundle), gz, sri


def main(argv: list[str] | None = None) -> int:
    """Build (or with --check, verify) the committed bundle and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the bundle is stale")
    args = parser.parse_args(argv)
    bundle = build().encode("utf-8")
    raw, gz, sri = sizes(bundle)
    print(f"{OUTPUT.relative_to(ROOT.parent)}: {raw} bytes raw, {gz} bytes gzipped")
    print(f"integrity: {sri}")
    if gz > MAX_GZIP_BYTES:
        print(f"error: gzipped size {gz} exceeds the {MAX_GZIP_BYTES}-byte budget", file=sys.stderr)
        return 1
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_bytes() != bundle:
            print("error: stale bundle; run python widget_js/build.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
