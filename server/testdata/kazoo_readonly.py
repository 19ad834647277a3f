"""Read-only mode through kazoo: python3 kazoo_readonly.py HOST:PORT PHASE

PHASE "ro": the server is cut off from its quorum: a read-only session can
read, its writes fail with NotReadOnlyCallError, and a read-write client
cannot get a session. PHASE "rw": the quorum is back: writes succeed.
"""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.handlers.threading import KazooTimeoutError


def check(name, cond):
    print(("ok   " if cond else "FAIL ") + name, flush=True)
    if not cond:
        sys.exit(1)


hosts, phase = sys.argv[1], sys.argv[2]
if phase == "ro":
    zk = KazooClient(hosts=hosts, read_only=True, timeout=10)
    zk.start(timeout=20)
    data, _ = zk.get("/ro")
    check("read-only session reads", data == b"before")
    try:
        zk.set("/ro", b"during")
        check("write refused in read-only mode", False)
    except NotReadOnlyCallError:
        check("write refused in read-only mode", True)
    zk.stop()
    zk.close()
    rw = KazooClient(hosts=hosts, timeout=5)
    try:
        rw.start(timeout=3)
        check("read-write client refused", False)
    except KazooTimeoutError:
        check("read-write client refused", True)
    finally:
        rw.stop()
        rw.close()
else:
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=20)
    zk.set("/ro", b"after")
    check("writes succeed once the quorum is back", zk.get("/ro")[0] == b"after")
    zk.stop()
    zk.close()
print("read-only checks passed")
