"""A small Flask app, as a team would have one."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask!"


@app.route("/users/<int:user_id>")
def user(user_id):
    return jsonify(id=user_id, name=f"user{user_id}")


@app.route("/echo", methods=["POST"])
def echo():
    return jsonify(length=len(request.get_data()), form=request.form.to_dict())
