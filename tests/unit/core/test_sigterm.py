"""SIGTERM as an interrupt in the run, and the default action back in processes that libraries fork."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from mhubio.core.integrity import sigterm_as_interrupt


def test_sigterm_interrupts_the_run_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_forked_child_gets_the_default_action_and_an_early_sigterm_is_kept():
    with sigterm_as_interrupt():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report its SIGTERM disposition and mask, then wait to be killed
            os.close(read)
            default = signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
            blocked = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, set())
            os.write(write, b"%d%d" % (default, blocked))
            time.sleep(30)
            os._exit(0)
        os.close(write)
        os.kill(pid, signal.SIGTERM)  # at once, as Pool.terminate() does right after a fork
        _, status = os.waitpid(pid, 0)
        report = os.read(read, 2)
        os.close(read)
        # the parent still turns SIGTERM into an interrupt and does not keep it blocked
        assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert report in (b"", b"10")  # killed before it could report, or reported the default action, unblocked


def _square(x: int) -> int:
    return x * x


def test_pools_made_and_terminated_at_once_never_hang():
    """nnU-Net's ``with Pool(...)`` around a tiny map: terminate() right after the workers are forked."""
    context = multiprocessing.get_context("fork")
    with sigterm_as_interrupt():
        for _ in range(30):
            with context.Pool(4) as pool:
                assert pool.map(_square, range(3)) == [0, 1, 4]
