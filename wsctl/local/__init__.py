"""The local target: an emulator of API Gateway's WebSocket data plane, with moto as DynamoDB.

``LocalService`` runs it in a background thread (tests, ``wsctl demo``); ``serve`` runs it in
the foreground for ``wsctl up --local``.
"""

from wsctl.local.quotas import Quotas
from wsctl.local.service import LocalService

__all__ = ["LocalService", "Quotas"]
