"""The small runtime every service shares: settings, logs, the Kafka service shell, PostgreSQL, embeddings.

Kept tiny on purpose. Domain logic lives in the services; the event language lives in ``contracts``.
"""
