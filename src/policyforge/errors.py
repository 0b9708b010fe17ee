"""User-facing errors: one line that names what and where, never a traceback."""


class PolicyforgeError(Exception):
    """An error a user caused (bad file, bad option); the CLI prints it as one line and exits 2."""


class InputError(PolicyforgeError):
    """Malformed input data; the message names file, line, column and reason."""

    def __init__(self, path: str, line: int | None, column: str | None, reason: str) -> None:
        where = str(path)
        if line is not None:
            where += f":{line}"
        if column:
            where += f": column '{column}'"
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.column, self.reason = path, line, column, reason


class PolicyError(PolicyforgeError):
    """A policy could not be loaded or returned something invalid."""


class PolicyCrashed(PolicyError):
    """The policy's own code raised while scoring; evaluation reports it as crashed, not invalid output."""
