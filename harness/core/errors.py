import difflib

"""The one exception type users see as a one-line error with exit code 2."""


class BenchError(Exception):
    """Bad input or an unusable environment: the CLI prints ``Error: <message>`` and exits 2."""


class NonFinite(BenchError):
    """A loss, metric, image batch or weight became NaN or infinite (or a round's images all one
    value): the run stops and is marked FAILED with the reason; nothing of it is written."""


def unknown(kind: str, name: str, choices: list[str]) -> str:
    """The one-line message for an unknown name, with a suggestion and the valid choices."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    # Among similar names prefer the fewest edits, then the same length ('fast6' -> 'fast5').
    close.sort(key=lambda c: (_edits(name, c), abs(len(c) - len(name))))
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Valid: {', '.join(sorted(choices))}"


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]
