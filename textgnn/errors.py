"""The one exception type the CLI turns into a clean message instead of a traceback."""


class TextGNNError(Exception):
    """A user-facing error: bad config, bad data file, unknown name, unreadable model."""
