"""moto's server, with its DynamoDB requests applied one at a time.

moto serves each request on a thread of its own and applies an `UpdateItem` `ADD`, and a
`TransactWriteItems` (which also snapshots whole tables to roll back), as a read and a write with
no lock: of two concurrent requests on one item, one update can be lost (200 threads' `ADD 1`
x 4 left 798 of 800 here), which DynamoDB never does. The service relies on those atomic
updates (the ledger's counts, the revocation list's version), so the tests would see moto's
race as the service's fault. One lock around every DynamoDB backend call gives DynamoDB's
per-item atomicity (and more); other services are untouched, so an SQS long poll never waits
on it. Run as `python moto_server.py -H 127.0.0.1 -p PORT`, the same arguments as
`moto_server`.
"""
import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_ONE_AT_A_TIME = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def call(*args, **kwargs):
        with _ONE_AT_A_TIME:
            return method(*args, **kwargs)

    return call


for _name, _method in list(vars(DynamoDBBackend).items()):
    if callable(_method) and not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))

if __name__ == "__main__":
    sys.exit(main())
