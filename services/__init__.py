"""The six services. Each folder is one process and one consumer group; they share only ``contracts``."""
