"""The detectors, one module each: every module here is imported by :mod:`app.preprocess.registry`, which
registers each concrete :class:`~app.preprocess.base.Detector` subclass it defines under its ``name``."""
