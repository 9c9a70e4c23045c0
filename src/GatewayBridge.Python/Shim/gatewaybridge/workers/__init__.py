"""GatewayBridge's worker processes, after gunicorn's workers/: base.py is what every worker does (connect, prove itself,
take its config, import the app, signals, READY, the memory check, log frames); sync.py, gthread.py and asgi.py are the
serving loops. The host starts a worker as `python3 gatewaybridge_worker.py`, which calls main()."""

import sys


def main():
    sys.exit(serve())


def serve(secret=None, preloaded=None):
    """Connects, then serves as the host's CONFIG says: a worker of its kind, or the template of a preloaded app. A
    worker a template forked gives its own secret and the app the template imported. Returns the exit status."""
    from gatewaybridge import protocol
    from gatewaybridge.workers import base

    try:
        connection, config = base.connect(secret)
        if config.template:
            from gatewaybridge.template import Template
            return Template(connection, config).run()
    except protocol.ProtocolError as error:
        print(f"gatewaybridge worker: the host broke the worker protocol ({error}); exiting.", file=sys.stderr)
        return base.PROTOCOL_ERROR
    return kind(config)(connection, config, preloaded).start()


def kind(config):
    """The worker class CONFIG asks for, imported now (a template imports it before it forks, so its workers share it)."""
    if config.interface == "asgi":
        from gatewaybridge.workers.asgi import AsgiWorker
        return AsgiWorker
    if config.threads > 1:
        from gatewaybridge.workers.gthread import ThreadWorker
        return ThreadWorker
    from gatewaybridge.workers.sync import SyncWorker
    return SyncWorker
