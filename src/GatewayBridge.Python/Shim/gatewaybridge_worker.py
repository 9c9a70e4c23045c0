"""A GatewayBridge worker process (started by the host, never by hand). Run as a script, so that the folder that holds
the shim is sys.path[0]: the shim's modules are found before any of the app's, which join sys.path only once the
worker has imported what its kind needs (gatewaybridge.workers.serve), so a WSGI worker never imports asyncio."""

import gatewaybridge.workers

gatewaybridge.workers.main()
