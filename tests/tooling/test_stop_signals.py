"""The local stack stops on SIGTERM whichever of its threads the kernel hands the signal to."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A process like the stack: a main thread waiting for the stop, other threads busy. The signal is sent to one of
# those other threads (what the kernel may do with a SIGTERM sent to the process), 0.3 s after the wait began.
PROCESS = textwrap.dedent(
    """
    import signal, threading, time
    from smsdev.stop_signals import StopSignals

    stop = StopSignals(signal.SIGTERM)
    busy = threading.Thread(target=time.sleep, args=(60,), daemon=True)
    busy.start()

    def send_to_the_busy_thread():
        time.sleep(0.3)
        signal.pthread_kill(busy.ident, signal.SIGTERM)

    threading.Thread(target=send_to_the_busy_thread, daemon=True).start()
    print("stopped by", stop.wait(), flush=True)
    """
)


def test_a_sigterm_handed_to_another_thread_stops_the_waiting_main_thread() -> None:
    # Given a waiting process whose SIGTERM lands on a busy thread (a threading.Event.wait() never woke for it)
    # When it runs, Then it stops within seconds, by that signal, and exits cleanly
    done = subprocess.run(
        [sys.executable, "-c", PROCESS],
        cwd=ROOT / "tools",
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "stopped by 15")
