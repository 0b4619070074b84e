"""`slmrank serve`: run the HTTP service with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

SETTINGS_EPILOG = """\
Every option can also be set by an environment variable SLMRANK_<NAME> (e.g. SLMRANK_MAX_CANDIDATES=64);
command-line flags win. Settings without a flag:
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `serve`."""
    from service.config_table import setting_rows

    lines = [f"  {env:<40} {meaning} (default: {default})" for env, default, meaning in setting_rows()]
    parser = subparsers.add_parser(
        "serve",
        help="run the ranking service (POST /rank)",
        description="Run the HTTP ranking service on the embedded engine or in front of SGLang/vLLM engines.",
        epilog=SETTINGS_EPILOG + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="interface to bind (SLMRANK_HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (SLMRANK_PORT; default 8000)")
    parser.add_argument("--model", dest="model_dir", help="checkpoint directory (SLMRANK_MODEL_DIR)")
    parser.add_argument("--backend", choices=["embedded", "sglang", "vllm"], help="SLMRANK_BACKEND")
    parser.add_argument("--device", help="auto | cpu | cuda (SLMRANK_DEVICE)")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], help="SLMRANK_DTYPE")
    parser.add_argument("--engine-urls", help="comma-separated engine URLs (SLMRANK_ENGINE_URLS)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="SLMRANK_LOG_LEVEL")
    parser.add_argument(
        "--models-file",
        help="JSON or TOML file of several served models, A/B weights and a shadow (SLMRANK_MODELS_FILE; "
        "docs/ab-testing.md)",
    )
    parser.add_argument(
        "--remote",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="a SGLang/vLLM backend option, e.g. sglang.api=score or breaker.open_s=2 (SLMRANK_REMOTE__<SECTION>__"
        "<FIELD>; repeatable; the README's configuration table lists them all)",
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    """Validate settings once, then hand the app to uvicorn."""
    from pydantic import ValidationError

    from service.app import create_app
    from service.draining_server import run_server
    from service.engine_factory import check_models
    from service.remote_options import parse_assignments
    from service.settings import Settings

    overrides = {k: v for k, v in vars(args).items() if k in Settings.model_fields and k != "remote" and v is not None}
    try:
        if args.remote:
            overrides["remote"] = parse_assignments(args.remote)
        settings = Settings(**overrides)
    except (ValidationError, ValueError) as exc:
        print(f"slmrank serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    problems = check_models(settings)
    for problem in problems:  # one line each, before any weights load: no traceback for a bad checkpoint
        print(f"slmrank serve: {problem}", file=sys.stderr)
    if problems:
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level != "debug":
        # httpx logs every engine call and health probe at INFO: noise at the default level.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # Access logs carry method, path and status only; bodies (member data) are never logged.
    run_server(create_app(settings), settings)
    return 0
