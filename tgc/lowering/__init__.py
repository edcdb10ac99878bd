"""Lowerings: tgc -> core (``to_core``), then per target (``cpu``, ``gpu``, ``accel``) from core."""
