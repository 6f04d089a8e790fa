"""Event schemas, parsing and validation, codecs and the traffic generator.

Everything here is pure: bytes in, typed events or a :class:`~streams.errors.BadInput` out.
"""
