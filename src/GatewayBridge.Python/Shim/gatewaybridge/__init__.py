"""GatewayBridge's Python side (shipped inside the GatewayBridge.Python package; apps never import it): wsgi.py drives a
WSGI app, asgi.py serves an ASGI app over the worker protocol (protocol.py), host.py is the host's own interpreter,
workers/ are the worker processes."""
