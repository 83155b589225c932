"""User-facing errors: raised for bad input; the CLI prints the message on one line, exit 1."""


class PointkitError(Exception):
    """An expected failure caused by the input (a bad file, an empty dataset, a wrong option).

    The message must say what is wrong and what to do, in one line.
    """
