"""The fit scores, one module each: every module here is imported by :mod:`app.fit.registry`, which registers
each concrete :class:`~app.fit.base.Scorer` subclass it defines under its ``name``."""
