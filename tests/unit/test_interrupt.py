"""A stop request survives a KeyboardInterrupt that Python drops inside a finalizer (CI saw one)."""

import gc
import signal
import sys

import pytest

from harness.core import interrupt


@pytest.fixture
def installed():
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    interrupt.install()
    yield
    signal.signal(signal.SIGTERM, saved[0])
    signal.signal(signal.SIGINT, saved[1])
    interrupt._requested = False


class SignalledWhileFinalising:
    def __del__(self):
        signal.raise_signal(signal.SIGTERM)  # the handler's raise happens here and is ignored


def test_check_is_silent_without_a_request(installed):
    interrupt.check()


def test_a_sigterm_dropped_in_a_finalizer_is_raised_at_the_next_check(installed, monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: dropped.append(info.exc_type))
    SignalledWhileFinalising()
    gc.collect()
    assert dropped == [KeyboardInterrupt]  # Python dropped the handler's raise
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()


def test_a_stop_inside_a_store_write_waits_for_the_write_to_finish(installed):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt.deferred():
            signal.raise_signal(signal.SIGTERM)  # recorded, not raised: the write goes on
            done.append("write finished")
    assert done == ["write finished"]
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()
