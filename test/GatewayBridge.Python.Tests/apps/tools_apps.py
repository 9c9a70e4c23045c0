"""Apps built on libraries that touch the process's standard streams when they are imported (Mercurial, click,
rich): they load only where sys.stdout and sys.stderr are real text files with .buffer and fileno()."""
import json
import sys


def hgweb(repository):
    """Mercurial's own WSGI app over one repository."""
    from mercurial.hgweb import hgweb as make

    return make(repository.encode())


def click_and_rich(environ, start_response):
    import click
    import rich
    from rich.console import Console

    click.echo("said by click")
    Console(file=sys.stderr).print("said by rich")
    report = {"click": click.__name__, "rich": rich.__name__, "stdout": type(sys.stdout).__name__,
              "buffer": type(sys.stdout.buffer).__name__, "fileno": sys.stdout.fileno(),
              "stdin": sys.stdin.read(), "atty": sys.stdout.isatty()}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]
