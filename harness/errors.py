"""The one exception type users see as a one-line error with exit code 2."""


class BenchError(Exception):
    """Bad input or an unusable environment: the CLI prints ``Error: <message>`` and exits 2."""
