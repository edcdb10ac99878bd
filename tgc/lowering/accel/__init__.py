"""The accel target (tgc's TPU-like accelerator, simulated); importing it registers the target."""

from tgc.dialect.targets import register
from tgc.lowering.accel.target import ACCEL

register(ACCEL)
