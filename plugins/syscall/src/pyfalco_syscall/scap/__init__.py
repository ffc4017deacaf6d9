"""The .scap capture format: reader and writer."""

from .reader import CaptureError, EnterMerger, ScapReader, load_capture, read_all

__all__ = ["CaptureError", "EnterMerger", "ScapReader", "load_capture", "read_all"]
