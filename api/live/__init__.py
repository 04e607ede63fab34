"""The live channel: one event-log subscription per process, fanned out to the
websockets of each packet, with presence kept beside it (never stored)."""
