"""A GatewayBridge worker process (started by the host, never by hand). Run as a script, so that the folder that holds
the shim is sys.path[0]: the shim's modules are found before any of the app's."""

import gatewaybridge.asgi  # noqa: F401  (every module the worker may need is imported before the app's folders are added)
import gatewaybridge.template  # noqa: F401
import gatewaybridge.workers
import gatewaybridge.workers.asgi  # noqa: F401
import gatewaybridge.workers.gthread  # noqa: F401
import gatewaybridge.workers.sync  # noqa: F401

gatewaybridge.workers.main()
