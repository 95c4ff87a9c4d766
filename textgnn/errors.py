"""The exception types the CLI turns into a clean message instead of a traceback."""


class TextGNNError(Exception):
    """A user-facing error: bad config, bad data file, unknown name, unreadable model."""

    exit_code = 2


class StudyFailed(TextGNNError):
    """Some runs of a study failed; the others were recorded (exit status 1)."""

    exit_code = 1
