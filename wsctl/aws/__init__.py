"""Deploying a ``ServiceSpec`` to AWS: pure planning at the core, boto3 at the edges.

- ``resources``: what the stack should look like (names, parameters, policy documents).
- ``remote``: what the account holds now, found by names and the stack tag.
- ``planner``: the difference between the two, as a list of actions (data).
- ``executor``: runs a plan through ``awsclient``, one typed method per AWS operation.
- ``deploy``: ``up``, ``down`` and ``status`` built from those pieces.

Nothing here is imported when wsctl starts: the commands import it lazily, with boto3.
"""
