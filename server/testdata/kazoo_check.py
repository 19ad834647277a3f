"""Exercise a ZooKeeper server through kazoo (Debian's python3-kazoo).

Usage: python3 kazoo_check.py HOST:PORT
Prints one line per check and exits non-zero on the first failure.
"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError


def check(name, cond):
    print(("ok   " if cond else "FAIL ") + name, flush=True)
    if not cond:
        sys.exit(1)


def main(hosts):
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    other = KazooClient(hosts=hosts, timeout=10)
    other.start(timeout=10)

    # CRUD
    zk.create("/kz/a", b"one", makepath=True)
    data, stat = zk.get("/kz/a")
    check("create+get", data == b"one" and stat.version == 0)
    stat = zk.set("/kz/a", b"two", version=0)
    check("set bumps version", stat.version == 1)
    try:
        zk.set("/kz/a", b"three", version=0)
        check("stale set fails", False)
    except BadVersionError:
        check("stale set fails", True)
    try:
        zk.create("/kz/a", b"dup")
        check("duplicate create fails", False)
    except NodeExistsError:
        check("duplicate create fails", True)
    seq = [zk.create("/kz/seq-", sequence=True) for _ in range(3)]
    check("sequential names increase", seq == sorted(seq) and len(set(seq)) == 3)
    check("children", sorted(zk.get_children("/kz")) == sorted(["a"] + [s.split("/")[-1] for s in seq]))
    try:
        zk.delete("/kz")
        check("delete non-empty fails", False)
    except NotEmptyError:
        check("delete non-empty fails", True)

    # Watches: data and children, triggered by another session.
    fired = threading.Event()
    events = []

    def on_data(data, stat, event=None):
        if event is not None:
            events.append(event)
            fired.set()

    zk.DataWatch("/kz/a", on_data)
    other.set("/kz/a", b"watched")
    check("data watch fires", fired.wait(5) and events[-1].type == "CHANGED")
    kids_seen = threading.Event()
    zk.ChildrenWatch("/kz", lambda kids: kids_seen.set() if "new" in kids else None)
    other.create("/kz/new")
    check("children watch fires", kids_seen.wait(5))

    # Ephemerals die with their session.
    other.create("/kz/eph", ephemeral=True)
    check("ephemeral exists", zk.exists("/kz/eph") is not None)
    other.stop()
    other.close()
    gone = threading.Event()

    def eph_watch(data, stat, event=None):
        if stat is None:
            gone.set()
    zk.DataWatch("/kz/eph", eph_watch)
    check("ephemeral removed when session closes", gone.wait(5))

    # Transactions.
    tx = zk.transaction()
    tx.create("/kz/tx1", b"x")
    tx.set_data("/kz/a", b"tx", version=-1)
    tx.check("/kz/a", 3)  # version after the set above in this transaction
    results = tx.commit()
    check("transaction commits", results[0] == "/kz/tx1" and not any(isinstance(r, Exception) for r in results))
    tx = zk.transaction()
    tx.create("/kz/tx2")
    tx.check("/kz/a", 99)
    results = tx.commit()
    check("failing transaction rolls back", isinstance(results[1], BadVersionError) and zk.exists("/kz/tx2") is None)

    # A lock recipe with two contenders.
    order = []
    lock = zk.Lock("/kz/lock", "first")
    c3 = KazooClient(hosts=hosts, timeout=10)
    c3.start(timeout=10)
    lock2 = c3.Lock("/kz/lock", "second")
    lock.acquire(timeout=5)
    order.append("first")

    def contender():
        lock2.acquire(timeout=10)
        order.append("second")
        lock2.release()

    th = threading.Thread(target=contender)
    th.start()
    check("second contender waits", not th.join(0.3) and order == ["first"])
    lock.release()
    th.join(10)
    check("lock recipe hands over", order == ["first", "second"])
    c3.stop()
    c3.close()

    zk.delete("/kz", recursive=True)
    try:
        zk.get("/kz/a")
        check("recursive delete", False)
    except NoNodeError:
        check("recursive delete", True)
    zk.stop()
    zk.close()
    print("all kazoo checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
