"""A small legacy Flask app: a to-do list in memory, with the JSON API a front end uses."""
import itertools
import threading

from flask import Flask, abort, jsonify, request, url_for

app = Flask(__name__)
_todos = {}
_ids = itertools.count(1)
_lock = threading.Lock()


@app.route("/")
def index():
    return f"Flask to-dos: {url_for('list_todos')}"


@app.route("/todos", methods=["GET"])
def list_todos():
    with _lock:
        return jsonify(sorted(_todos.values(), key=lambda t: t["id"]))


@app.route("/todos", methods=["POST"])
def create_todo():
    data = request.get_json(silent=True) or request.form
    title = (data.get("title") or "").strip()
    if not title:
        return jsonify(error="a to-do needs a title"), 400
    with _lock:
        todo = {"id": next(_ids), "title": title, "done": False}
        _todos[todo["id"]] = todo
    response = jsonify(todo)
    response.status_code = 201
    response.headers["Location"] = url_for("get_todo", todo_id=todo["id"])
    return response


@app.route("/todos/<int:todo_id>", methods=["GET"])
def get_todo(todo_id):
    with _lock:
        todo = _todos.get(todo_id)
    if todo is None:
        abort(404)
    return jsonify(todo)


@app.route("/todos/<int:todo_id>/done", methods=["POST"])
def complete_todo(todo_id):
    with _lock:
        todo = _todos.get(todo_id)
        if todo is None:
            abort(404)
        todo["done"] = True
    return jsonify(todo)
