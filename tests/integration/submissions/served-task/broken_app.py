"""A Flask app whose import never finishes, as apps that retry an unreachable remote registry at start-up do:
gunicorn's master binds the port, its worker never gets to serve."""

import time

from flask import Flask

while True:  # "connecting to the remote registry..." with retries that never give up
    time.sleep(1)

app = Flask(__name__)
