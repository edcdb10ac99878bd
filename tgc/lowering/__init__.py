"""Lowerings: tgc -> core (``to_core``, target-neutral, with the bufferization helpers every target
shares), then one package per target from core to code (``cpu`` today); each target registers itself
in tgc/dialect/targets.py."""
