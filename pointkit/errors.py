"""User-facing errors: raised for bad input; the CLI prints the message on one line, exit 1."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, else its type name (for one-line reports)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PointkitError(Exception):
    """An expected failure caused by the input (a bad file, an empty dataset, a wrong option).

    The message must say what is wrong and what to do, in one line.
    """
