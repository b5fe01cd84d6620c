"""Serve the scripted LLM in the foreground, on any address: for `make deploy-test`, which
runs it in a container of the stack (``python -m fakellm --host 0.0.0.0``)."""

from __future__ import annotations

import argparse

import uvicorn

from .server import ScriptedLLM


def main() -> None:
    parser = argparse.ArgumentParser(prog="fakellm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--seconds-per-token",
        type=float,
        default=0.0,
        help="streaming pace; slows a run down so that a test can act in the middle of it",
    )
    parser.add_argument(
        "--required-key-file",
        help="answer 401 to a chat request without `Bearer <the file's content>`",
    )
    args = parser.parse_args()
    llm = ScriptedLLM(seconds_per_token=args.seconds_per_token)
    if args.required_key_file:
        with open(args.required_key_file, encoding="utf-8") as file:
            llm.required_key = file.read().strip()
    uvicorn.run(llm.app, host=args.host, port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
