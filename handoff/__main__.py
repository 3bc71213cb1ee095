"""Run the handoff API: `python -m handoff [--host H] [--port P]`, settings from the environment."""

from __future__ import annotations

import argparse
import logging

from handoff.api import serve
from youthlink.config import Settings


def main() -> None:
    """Read settings once, then migrate and serve."""
    parser = argparse.ArgumentParser(prog="python -m handoff", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(Settings.from_env(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
