"""The event language of Workforce: the envelope, every event type, the topics and the codec.

This package is the only code services share. It has no I/O.
"""
