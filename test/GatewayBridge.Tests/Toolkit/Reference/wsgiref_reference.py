"""CPython's own answers for the differential tests: one JSON request per line in, one JSON answer per line out.

The environs arrive as .NET strings; PEP 3333 gives Python the native form of the same bytes (UTF-8 to latin-1)."""
import json
import posixpath
import sys
import urllib.parse
import wsgiref.headers
import wsgiref.util


def native(value):
    return value.encode("utf-8").decode("latin-1") if isinstance(value, str) else value


def from_native(value):
    return value.encode("latin-1").decode("utf-8") if isinstance(value, str) else value


def answer(request):
    op = request["op"]
    if op in ("request_uri", "application_uri", "shift_path_info", "guess_scheme"):
        environ = {k: native(v) for k, v in request["environ"].items()}
        if op == "request_uri":
            return wsgiref.util.request_uri(environ, request["include_query"])
        if op == "application_uri":
            return wsgiref.util.application_uri(environ)
        if op == "guess_scheme":
            return wsgiref.util.guess_scheme(environ)
        name = wsgiref.util.shift_path_info(environ)
        return [from_native(name), from_native(environ.get("SCRIPT_NAME")), from_native(environ["PATH_INFO"])]
    if op == "normpath":
        return posixpath.normpath(request["path"])
    if op == "parse_qs":
        pairs = urllib.parse.parse_qsl(request["query"], keep_blank_values=True)
        grouped = {}
        for key, value in pairs:
            grouped.setdefault(key, []).append(value)
        return grouped
    if op == "headers":
        headers = wsgiref.headers.Headers([tuple(h) for h in request["headers"]])
        for name, value, params in request["add"]:
            headers.add_header(name, value, **{k: v for k, v in params})
        for name, default in request["setdefault"]:
            headers.setdefault(name, default)
        for name in request["delete"]:
            del headers[name]
        return {"items": headers.items(), "str": str(headers), "get_all": {n: headers.get_all(n) for n in request["ask"]}}
    raise ValueError(op)


for line in sys.stdin:
    request = json.loads(line)
    try:
        result = {"ok": answer(request)}
    except Exception as error:  # noqa: BLE001 -- a difference in what fails is a finding too
        result = {"error": type(error).__name__}
    sys.stdout.write(json.dumps(result) + "\n")
