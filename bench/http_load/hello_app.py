"""The baseline: a bare Flask "hello" route, served by gunicorn exactly like crowdgate."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "hello"
