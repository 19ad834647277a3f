"""Exercise a ZooKeeper server's TLS client port through kazoo (use_ssl).

Usage: python3 kazoo_tls.py HOST:PORT CA CERT KEY X509ID
Connects with the client certificate, protects a node with an x509 ACL
naming X509ID, checks that the owner reads it and whoami-less checks
hold, then checks that a client without a certificate gets no session.
Prints one line per check and exits non-zero on the first failure.
"""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import ACL, Id, Permissions


def check(name, cond):
    print(("ok   " if cond else "FAIL ") + name, flush=True)
    if not cond:
        sys.exit(1)


def main(hosts, ca, cert, key, x509id):
    zk = KazooClient(hosts=hosts, timeout=10, use_ssl=True, ca=ca, certfile=cert, keyfile=key)
    zk.start(timeout=30)
    acl = [ACL(Permissions.ALL, Id("x509", x509id))]
    zk.create("/kazoo-tls", b"hers", acl=acl)
    data, _ = zk.get("/kazoo-tls")
    check("x509 owner reads over TLS", data == b"hers")
    got, _ = zk.get_acls("/kazoo-tls")
    check("x509 ACL kept", len(got) == 1 and got[0].id.scheme == "x509" and got[0].id.id == x509id)
    zk.set("/kazoo-tls", b"again")
    check("x509 owner writes", zk.get("/kazoo-tls")[0] == b"again")

    anon = KazooClient(hosts=hosts, timeout=5, use_ssl=True, ca=ca,
                       connection_retry={"max_tries": 1})
    refused = False
    try:
        anon.start(timeout=5)
        try:
            anon.get("/kazoo-tls")
        except NoAuthError:
            pass
    except (KazooTimeoutError, Exception):
        refused = True
    finally:
        anon.stop()
        anon.close()
    check("no certificate, no session (clientAuth=need)", refused)

    zk.delete("/kazoo-tls")
    zk.stop()
    zk.close()
    print("all kazoo tls checks passed", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
