"""The one exception type the core raises for anything a user or operator can fix."""


class StudioError(ValueError):
    """A request, input or configuration the studio cannot serve.

    The message always says what was received and what is allowed, so the UI
    can show it verbatim.
    """


class ModelLoadError(StudioError):
    """A model (base, ControlNet, IP-Adapter, detector) failed to load."""


class Cancelled(StudioError):
    """The user cancelled a running generation."""


class OutOfMemory(StudioError):
    """The accelerator ran out of memory; the message says what to reduce. The studio stays usable."""
