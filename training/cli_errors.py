"""What a user can get wrong on the command line; each becomes one `error: ...` line and exit status 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


def user_error_types() -> tuple[type[Exception], ...]:
    """Imported when a command runs, so building the parser (`slmrank --help`) stays torch-free."""
    from ranking.card import CardError
    from ranking.labels import LabelTokenError
    from training.data.dataset_reader import DataError
    from training.recipes.config_loader import ConfigError
    from training.recipes.model_init import InitError
    from training.setup_error import SetupError

    return (DataError, ConfigError, InitError, CardError, LabelTokenError, SetupError, KeyError, FileNotFoundError)


def user_errors(handler: Handler) -> Handler:
    """Run `handler`; a user error prints one line on stderr and returns 2, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        errors = user_error_types()
        try:
            return handler(args)
        except errors as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"error: {message}", file=sys.stderr)
            return 2

    return run
