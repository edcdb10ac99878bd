"""The nvptx target (NVIDIA GPUs through NVVM to PTX); importing it registers the target."""

from tgc.dialect.targets import register
from tgc.lowering.nvptx.target import NVPTX

register(NVPTX)
