"""The CPU's receive callback (tgc/runtime/rendezvous.py): compiled code calls it through ctypes,
where an exception is only printed, so a tensor it cannot hand over must abort the run with an
error naming the key before anything is written into the caller's descriptor."""

import ctypes
import threading

import numpy as np
import pytest

from tgc.runtime.errors import InvalidArgumentError
from tgc.runtime.rendezvous import Rendezvous, TransferHub

KEYS = {0: "ExpandDims:0;/accel:0;/cpu:0"}


def _receive(value, dtype, rank):
    """Runs the recv callback of (dtype, rank) for ``value`` in a thread (an aborted recv parks);
    returns the descriptor's words and the rendezvous."""
    hub = TransferHub()
    hub.current = Rendezvous(KEYS, running=2, timeout=10.0)
    hub.current.send(0, value)
    descriptor = (ctypes.c_int64 * (3 + 2 * rank))(*([-7] * (3 + 2 * rank)))
    recv = hub.callback("recv", np.dtype(dtype), rank)
    thread = threading.Thread(target=recv, args=(ctypes.addressof(descriptor), 0), daemon=True)
    thread.start()
    for _ in range(500):  # until it returned or aborted the run (then it parks for ever)
        thread.join(timeout=0.01)
        if not thread.is_alive() or hub.current.error is not None:
            break
    return list(descriptor), hub.current, thread.is_alive()


def test_a_received_tensor_fills_the_descriptor_with_its_shape_and_strides():
    words, rendezvous, parked = _receive(np.arange(6, dtype=np.float32).reshape(2, 3), "float32", 2)
    assert not parked and rendezvous.error is None
    assert words[2:] == [0, 2, 3, 3, 1]  # offset, sizes, strides in elements
    data = (ctypes.c_float * 6).from_address(words[1])
    np.testing.assert_array_equal(np.frombuffer(data, np.float32), np.arange(6))


@pytest.mark.parametrize("value", [np.float32(1.5), np.zeros((1, 1), np.float32)])
def test_a_received_tensor_of_another_rank_aborts_the_run_naming_the_key(value):
    words, rendezvous, parked = _receive(np.asarray(value), "float32", 1)
    assert parked  # the compiled caller never gets a half-written descriptor back
    assert words == [-7] * 5
    assert isinstance(rendezvous.error, InvalidArgumentError)
    assert str(rendezvous.error) == (
        "the tensor received as 'ExpandDims:0;/accel:0;/cpu:0' is float32 of shape "
        f"{list(np.shape(value))}, but the function was compiled for float32 of rank 1"
    )


def test_a_received_tensor_of_another_kind_of_dtype_aborts_the_run():
    words, rendezvous, parked = _receive(np.array([1, 2], np.int32), "float32", 1)
    assert parked and words == [-7] * 5
    assert "is int32 of shape [2], but the function was compiled for float32 of rank 1" in str(
        rendezvous.error
    )
