"""The nvptx target (NVIDIA GPUs through NVVM to PTX); importing it registers the target and its
host-emulated twin, "nvptx-emulated" (emulated.py), which no device type gets by default."""

from tgc.dialect.targets import register
from tgc.lowering.nvptx.emulated import emulated
from tgc.lowering.nvptx.target import NVPTX

register(NVPTX)
register(emulated(NVPTX), default_for_type=False)
