"""``python -m crowdgate``: the same command line as ``crowdgate``."""

from .cli import main

main()
