"""The one exception type users see as a one-line error with exit code 2."""


class BenchError(Exception):
    """Bad input or an unusable environment: the CLI prints ``Error: <message>`` and exits 2."""


class NonFinite(BenchError):
    """A loss, metric, image batch or weight became NaN or infinite (or a round's images all one
    value): the run stops and is marked FAILED with the reason; nothing of it is written."""
