"""``python -m crowdgate.aggregation ANSWERS [--method M] [--gold G] [-o OUT]``.

The same work and errors as ``crowdgate aggregate``, started without the command line's other
commands (what the aggregation path itself costs; see bench/aggregation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CrowdgateError
from .command import aggregate_file
from .registry import AGGREGATORS, DEFAULT_METHOD


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, aggregate, return the exit status (2 on bad input, as the CLI)."""
    parser = argparse.ArgumentParser(prog="python -m crowdgate.aggregation")
    parser.add_argument("answers", type=Path)
    parser.add_argument("--method", "-m", choices=sorted(AGGREGATORS), default=DEFAULT_METHOD)
    parser.add_argument("--gold", type=Path)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    try:
        aggregate_file(args.answers, args.method, args.gold, args.output)
    except CrowdgateError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Error: cannot write {args.output}: {exc.strerror}.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
