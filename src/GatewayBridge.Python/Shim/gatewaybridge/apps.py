"""Loading an app as gunicorn names it, and telling WSGI from ASGI (both modes, and the serve tool's probe)."""

import ast
import functools
import importlib
import sys


def load_app(spec):
    """gunicorn's app spec: 'module:name', 'module:factory()' with literal arguments, or 'module'; or
    'paste:/path/file.ini#name', the WSGI app of a PasteDeploy file (gunicorn's --paste)."""
    if spec.startswith("paste:"):
        return _paste(spec[len("paste:"):])
    module_name, _, expression = spec.partition(":")
    module = importlib.import_module(module_name)
    try:
        tree = ast.parse(expression or "application", mode="eval").body
    except SyntaxError:
        raise ValueError(f"'{expression}' is not a name or a call of one") from None
    if isinstance(tree, ast.Name):
        app = _attribute(module, tree.id)
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        try:
            args = [ast.literal_eval(a) for a in tree.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in tree.keywords}
        except ValueError:
            raise ValueError(f"the arguments of '{expression}' must be literals, as gunicorn requires") from None
        app = _attribute(module, tree.func.id)(*args, **kwargs)
    else:
        raise ValueError(f"'{expression}' is neither a name nor a call of one (module:name or module:factory())")
    if not callable(app):
        raise TypeError(f"{spec} is a {type(app).__name__}, not a callable app")
    return app


def import_from_source(folders):
    """Reloading on save: a module in the app's folders is compiled from its source at each import, never taken from a
    .pyc, and none is written. CPython takes a .pyc whose source has the size and the whole-second mtime it was compiled
    from, so a save of the same size within that second would go unseen. Other modules load as usual."""
    import os
    from importlib.machinery import (BYTECODE_SUFFIXES, EXTENSION_SUFFIXES, SOURCE_SUFFIXES, ExtensionFileLoader,
                                     FileFinder, SourceFileLoader, SourcelessFileLoader)

    class SourceOnlyLoader(SourceFileLoader):
        def path_stats(self, path):
            # Without the source's stats the loader neither checks a .pyc nor writes one.
            raise OSError("compiled from source: the app reloads on save")

    app_finder = FileFinder.path_hook((ExtensionFileLoader, EXTENSION_SUFFIXES), (SourceOnlyLoader, SOURCE_SUFFIXES),
                                      (SourcelessFileLoader, BYTECODE_SUFFIXES))
    roots = tuple(os.path.join(os.path.abspath(folder), "") for folder in folders)

    def hook(entry):
        where = os.path.join(os.path.abspath(entry or "."), "")
        if not where.startswith(roots) or "site-packages" in where:
            raise ImportError("not one of the app's folders")
        return app_finder(entry)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


def _paste(location):
    import os

    from paste.deploy import loadapp

    path, _, name = location.partition("#")
    try:
        return loadapp(f"config:{path}", name=name or "main", relative_to=os.path.dirname(path))
    except LookupError as error:
        raise LookupError(f"{path} has no app named '{name or 'main'}' ({error})") from None


def interface_of(app):
    """'asgi' for a coroutine function, or an object whose __call__ is one (Starlette, FastAPI, Django's
    ASGIHandler); 'wsgi' for any other callable."""
    import inspect  # here, not at the top: a worker never asks, and inspect costs megabytes

    call = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(type(app), "__call__", app)
    return "asgi" if inspect.iscoroutinefunction(call) else "wsgi"


def _attribute(module, name):
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module '{module.__name__}' has no attribute '{name}'") from None


def validated(app):
    """The app wrapped in CPython's own conformance checker, brought up to PEP 3333 on wsgi.input (below)."""
    return _validate().validator(app)


@functools.cache
def _validate():
    """A private copy of wsgiref.validate whose InputWrapper allows read() without a size: the app's own
    wsgiref.validate, if it uses one, is left as it is."""
    import importlib.util
    import wsgiref.validate

    spec = importlib.util.find_spec("wsgiref.validate")
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    copy.InputWrapper = type("InputWrapper", (_Pep3333Input, wsgiref.validate.InputWrapper), {})
    return copy


class _Pep3333Input:
    """wsgiref.validate follows PEP 333 and refuses read() without a size. PEP 3333 asks servers to allow it ("return
    the entire remainder of the client's input stream"), and Werkzeug relies on it, so the checker allows it too."""

    def read(self, *args):
        if args:
            return super().read(*args)
        data = self.input.read()
        if type(data) is not bytes:
            raise AssertionError(f"wsgi.input.read() returned a {type(data).__name__}, not bytes")
        return data
