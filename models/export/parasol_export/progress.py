import sys


def say(message: str) -> None:
    """One progress line on stderr; `parasol pack import` streams these as they come."""
    print(f"parasol-export: {message}", file=sys.stderr, flush=True)
