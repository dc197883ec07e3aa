"""Local development: the embedded defaults, DEBUG on."""
from .base import *
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
