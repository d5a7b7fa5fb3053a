"""The one error a user sees for bad input: it names the field and the problem."""


class ScenarioError(ValueError):
    """A scenario, override or option is wrong; ``str()`` is one line naming field and problem."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
