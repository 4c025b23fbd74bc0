"""``wsctl policy``: the IAM policy the deploying identity needs for this wsctl.toml."""

from __future__ import annotations

import json

import typer

from wsctl.options import ConfigOpt, NameOpt, RegionOpt, StageOpt, resolve_spec


def policy(
    config: ConfigOpt = None,
    stage: StageOpt = None,
    name: NameOpt = None,
    region: RegionOpt = None,
) -> None:
    """Print the least-privilege IAM policy for up, status, logs and down of this stack (JSON
    for `aws iam put-user-policy --policy-document file://...`)."""
    spec = resolve_spec(config, name=name, stage=stage, region=region)
    from wsctl.aws.permissions import deployer_policy

    typer.echo(json.dumps(deployer_policy(spec), indent=2))


def register(app: typer.Typer) -> None:
    app.command("policy")(policy)
