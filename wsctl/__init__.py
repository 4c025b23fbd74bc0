"""wsctl: a serverless WebSocket service on AWS, or on this machine, in one command."""

__version__ = "0.1.0"
