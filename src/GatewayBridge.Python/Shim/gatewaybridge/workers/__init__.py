"""GatewayBridge's worker processes, after gunicorn's workers/: base.py is what every worker does (connect, prove itself,
take its config, import the app, signals, READY, the memory check, log frames); sync.py, gthread.py and asgi.py are the
serving loops. The host starts a worker as `python3 gatewaybridge_worker.py`, which calls main()."""

import sys


def main():
    from gatewaybridge import protocol
    from gatewaybridge.workers import base

    try:
        connection, config = base.connect()
    except protocol.ProtocolError as error:
        print(f"gatewaybridge worker: the host broke the worker protocol ({error}); exiting.", file=sys.stderr)
        sys.exit(base.PROTOCOL_ERROR)
    if config.interface == "asgi":
        from gatewaybridge.workers.asgi import AsgiWorker as kind
    elif config.threads > 1:
        from gatewaybridge.workers.gthread import ThreadWorker as kind
    else:
        from gatewaybridge.workers.sync import SyncWorker as kind
    sys.exit(kind(connection, config).start())
