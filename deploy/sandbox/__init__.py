"""How the local stack stands in for the customer's systems: each module is a separate HTTP server
speaking one vendor's real REST shapes (auth, status codes, error bodies), reached through the same
client class as the real vendor (issue 15). Importing a module starts nothing; each has a
``create_app(...)`` factory and a ``python -m deploy.sandbox.<vendor>`` entry point."""
