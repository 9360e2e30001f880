"""A RUNNING run is taken over only when its owner is provably gone, and its heartbeat keeps
beating however long an epoch takes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import torch

from harness.engine.ownership import Heartbeat, Owner, process_start, takeover_refusal
from harness.engine.resume import non_finite


def test_an_owner_round_trips_through_its_tag():
    me = Owner.me()
    assert Owner.parse(str(me)) == me
    assert Owner.parse("") is None and Owner.parse("garbage") is None


def test_a_live_owner_on_this_machine_is_refused_however_old_its_heartbeat():
    refusal = takeover_refusal(str(Owner.me()), heartbeat=0.0)
    assert refusal and "still running" in refusal


def test_a_dead_owner_on_this_machine_is_taken_over_at_once():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = Owner(Owner.me().host, Owner.me().boot, child.pid, Owner.me().started)
    child.wait()
    assert takeover_refusal(str(owner), heartbeat=time.time()) is None


def test_a_killed_but_unreaped_owner_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    me = Owner.me()
    owner = Owner(me.host, me.boot, child.pid, process_start(child.pid))
    assert takeover_refusal(str(owner), heartbeat=time.time()) is not None
    child.kill()
    time.sleep(0.5)  # a zombie until wait(): it runs no more
    assert takeover_refusal(str(owner), heartbeat=time.time()) is None
    child.wait()


def test_a_recycled_pid_is_not_the_owner():
    me = Owner.me()
    impostor = Owner(me.host, me.boot, me.pid, "1")  # this pid, another start time
    assert takeover_refusal(str(impostor), heartbeat=time.time()) is None


def test_another_machines_owner_is_refused_while_its_heartbeat_is_fresh(monkeypatch):
    monkeypatch.setenv("DFKD_STALE_AFTER_S", "600")
    other = str(Owner("elsewhere", "b00t", 1, "5"))
    refusal = takeover_refusal(other, heartbeat=time.time() - 30)
    assert refusal and "on elsewhere sent a heartbeat 30 s ago" in refusal
    assert takeover_refusal(other, heartbeat=time.time() - 601) is None


def test_the_heartbeat_beats_on_a_timer_and_stops():
    beats = []
    with Heartbeat(lambda: beats.append(threading.current_thread().name), interval=0.02):
        time.sleep(0.3)
    count = len(beats)
    assert count >= 5 and set(beats) == {"dfkd-heartbeat"}
    time.sleep(0.1)
    assert len(beats) == count  # no beat after exit


def test_non_finite_names_every_bad_tensor_in_a_nested_state():
    state = {"student": {"w": torch.ones(2), "b": torch.tensor([float("nan")])},
             "optimizer": {"state": [torch.tensor([float("inf")]), torch.zeros(1, dtype=torch.long)]},
             "progress": {"best": float("-inf")}}
    assert non_finite(state) == ["student.b", "optimizer.state[0]"]
