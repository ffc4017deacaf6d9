"""pyfalco's gvisor engine: syscall events from gVisor sandboxes (runsc runtime monitoring)."""

__version__ = "0.1.0"
