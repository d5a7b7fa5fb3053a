"""ringlab's own errors. Each reaches the user as one line on stderr and a documented exit status:

==== ===============================================================================
0    success
1    the run finished but a check failed (conservation violated, a prerequisite missing)
2    :class:`InputError`: a bad scenario, option, file or path
3    :class:`HardwareError`: real XDP cannot do what was asked on this machine
4    :class:`BuildError`: a C source of ringlab could not be compiled
5    the environment: a file of the run could not be written or read (no space left, permission,
     a name too long, ...) or memory ran out; the earlier run is left as it was
70   a bug in ringlab: the traceback is shown, and the last line says it is a bug
130  interrupted (Ctrl-C)
==== ===============================================================================
"""

EXIT_CHECK_FAILED = 1
EXIT_ENVIRONMENT = 5
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


class RinglabError(Exception):
    """An error that is not a bug in ringlab; ``str()`` is one line."""

    exit_status = 1
    label = "error"


class InputError(RinglabError, ValueError):
    """A scenario field, option, file or path is wrong; ``str()`` names the field and the problem."""

    exit_status = 2

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class HardwareError(RinglabError):
    """Real XDP cannot do what was asked here; the message says why and what to do."""

    exit_status = 3
    label = "hardware"


class BuildError(RinglabError):
    """A C source could not be compiled; ``details`` holds the compiler's whole output."""

    exit_status = 4
    label = "build"

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


def environment_message(error: BaseException) -> str:
    """An OSError or MemoryError as one line naming the path and the reason."""
    if isinstance(error, MemoryError):
        return f"out of memory{': ' + one_line(error) if str(error) else ''}"
    reason = error.strerror or one_line(error)
    if error.filename is not None:
        return f"cannot write or read {error.filename}: {reason[0].lower() + reason[1:] if reason else reason}"
    return one_line(error)


def one_line(error: BaseException) -> str:
    """The error's message folded onto one line."""
    return " ".join(str(error).split())
