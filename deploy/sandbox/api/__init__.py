"""Each simulated vendor's HTTP API: ``create_app(state)`` per module, mounted under ``/<vendor>`` by
``deploy/sandbox/server.py``. A module translates the vendor's REST shapes to and from the vendor's
state logic (``deploy/sandbox/<vendor>.py``) and answers in the vendor's error bodies."""
