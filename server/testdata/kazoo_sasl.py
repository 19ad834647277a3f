"""Exercise a ZooKeeper server's SASL DIGEST-MD5 login through kazoo.

Usage: python3 kazoo_sasl.py HOST:PORT USER PASSWORD
Logs in as USER, protects a node with a sasl ACL naming USER and reads it
back; then tries a wrong password, and an anonymous client's read. Prints
one transcript line per step (the outcome, or the exception's class), so
that the transcripts of two servers can be compared; exits 0 unless the
script itself breaks.
"""
import os
import sys

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry
from kazoo.security import ACL, Id, Permissions


def client(hosts, **kw):
    return KazooClient(hosts=hosts, timeout=10,
                       connection_retry=KazooRetry(max_tries=1, delay=0.1),
                       command_retry=KazooRetry(max_tries=0), **kw)


def say(step, result):
    print("> %s: %s" % (step, result), flush=True)


def outcome(f):
    try:
        return "ok %r" % (f(),)
    except Exception as e:  # the class is the outcome
        return "error " + type(e).__name__


def stop(zk):
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


def main(hosts, user, password):
    sasl = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
    zk = client(hosts, sasl_options=sasl)
    say("login", outcome(lambda: zk.start(timeout=20)))
    acl = [ACL(Permissions.ALL, Id("sasl", user))]
    say("create", outcome(lambda: zk.create("/kazoo-sasl", b"mine", acl=acl)))
    say("get", outcome(lambda: zk.get("/kazoo-sasl")[0]))
    say("acl", outcome(lambda: [(a.id.scheme, a.id.id, a.perms) for a in zk.get_acls("/kazoo-sasl")[0]]))

    # A wrong password: kazoo's start returns; its requests fail.
    bad = client(hosts, sasl_options=dict(sasl, password=password + "-wrong"))
    outcome(lambda: bad.start(timeout=10))
    say("wrong password connected", bad.connected)
    say("wrong password exists", outcome(lambda: bad.exists_async("/").get(timeout=5)))

    # kazoo 2.8 does not know SESSIONCLOSEDREQUIRESASLAUTH (-124): its
    # connection thread dies on it, so the read times out.
    anon = client(hosts)
    say("anonymous connect", outcome(lambda: anon.start(timeout=10)))
    say("anonymous get", outcome(lambda: anon.get_async("/kazoo-sasl").get(timeout=5)[0]))

    say("delete", outcome(lambda: zk.delete("/kazoo-sasl")))
    stop(zk)
    os._exit(0)  # the failed clients' threads may hang on exit


if __name__ == "__main__":
    main(*sys.argv[1:4])
