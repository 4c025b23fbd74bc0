"""wsctl's WebSocket client: pure pieces (protocol frames, slash commands, rendering, close codes,
handshake options, endpoint resolution) apart from the I/O (``connection``, ``script``,
``interactive``). Nothing here imports boto3: client commands start fast.
"""
