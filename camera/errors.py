"""Errors raised by the camera wing; messages say what is wrong and how to fix it."""


class CameraError(RuntimeError):
    """A camera cannot be opened or read (unreachable, wrong credentials, corrupt stream)."""


class CameraUnavailable(CameraError):
    """A camera library or device is missing on this machine; the message says how to get it."""
