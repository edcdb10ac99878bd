"""TensorBoard event files: TFRecord framing with masked CRC32C, one ``Event`` proto per record.

This is the host end of summaries: ``tgc.summary.FileWriter`` hands serialized ``Event`` protos to
``EventFileWriter``, which frames each as a TFRecord (length, masked CRC of the length, data, masked
CRC of the data) and writes the whole record with one ``write`` followed by a flush. A crash
therefore leaves at most the last record torn, and every complete record before it is readable by
TensorBoard. CRC32C (Castagnoli) is computed in pure Python from a 256-entry table: event records
are small.
"""

from __future__ import annotations

import os
import socket
import struct
import time

_CASTAGNOLI = 0x82F63B78  # the reflected CRC-32C polynomial
_MASK_DELTA = 0xA282EAD8


def _make_table() -> tuple:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CASTAGNOLI if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data: bytes) -> int:
    """The CRC-32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotated and offset so that CRCs of CRCs stay well mixed."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One TFRecord: uint64 length, uint32 masked CRC of the length, data, uint32 masked CRC of
    data."""
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def read_records(path: str):
    """The complete records of a TFRecord file, checking both CRCs; a torn tail record is
    ignored."""
    with open(path, "rb") as handle:
        blob = handle.read()
    offset = 0
    while offset + 12 <= len(blob):
        header = blob[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", blob[offset + 8 : offset + 12])
        if header_crc != masked_crc32c(header):
            raise ValueError(f"{path}: corrupt record length at byte {offset}")
        end = offset + 12 + length + 4
        if end > len(blob):
            return  # an incomplete last record, as a crash mid-write leaves
        data = blob[offset + 12 : offset + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[end - 4 : end])
        if data_crc != masked_crc32c(data):
            raise ValueError(f"{path}: corrupt record data at byte {offset}")
        yield data
        offset = end


class EventFileWriter:
    """Appends serialized ``Event`` protos to ``events.out.tfevents.<time>.<host><suffix>`` in
    logdir.

    The first record is the ``brain.Event:2`` version event TensorBoard expects. Each record is
    written and flushed on its own, so nothing already added is lost if the process dies.
    """

    def __init__(self, logdir: str, filename_suffix: str = ""):
        from tensorboard.compat.proto.event_pb2 import Event

        os.makedirs(logdir, exist_ok=True)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}."
            f"{socket.gethostname()}{filename_suffix or ''}"
        )
        self.path = os.path.join(logdir, name)
        self._handle = open(self.path, "ab")
        self.write_event(
            Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()
        )

    @property
    def closed(self) -> bool:
        return self._handle is None

    def write_event(self, serialized_event: bytes) -> None:
        if self._handle is None:
            raise ValueError(f"the event file {self.path} is closed")
        self._handle.write(frame_record(serialized_event))
        self._handle.flush()

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self.flush()
            self._handle.close()
            self._handle = None


__all__ = ["crc32c", "masked_crc32c", "frame_record", "read_records", "EventFileWriter"]
