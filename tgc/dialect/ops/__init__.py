"""Every op family of the tgc dialect; importing this package fills the registry."""

from tgc.dialect.ops import array, control, elementwise, linalg, reduce, state  # noqa: F401
