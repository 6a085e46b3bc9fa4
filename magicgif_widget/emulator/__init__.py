"""A local, faithful emulator of the Magic Hour API: the tests' server and the offline sandbox."""

from .app import Emulator
from .sandbox import sandbox_emulator
from .server import BackgroundServer

__all__ = ["BackgroundServer", "Emulator", "sandbox_emulator"]
