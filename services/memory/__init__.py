"""Memory: stores resolved tickets and what resolved them as vectors in Qdrant, per team."""
