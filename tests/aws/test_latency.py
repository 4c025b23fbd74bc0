"""The latency model of AWS (wsctl/aws/latency.py) on a virtual clock (instant, whatever the
machine's load): what it models happens and the deployer waits it out, in both the graph and
one step at a time. No wall-time assertion: the model's clock only bounds waits from below."""

from __future__ import annotations

import dataclasses

import pytest
from aws_testing import assert_account_empty

from wsctl.aws import clock, deploy
from wsctl.aws.awsclient import AwsClient
from wsctl.aws.latency import FIGURES, LatencyModel
from wsctl.aws.session import open_target

# IAM as slow as it is at worst (minutes): longer than everything the other steps can sleep
# on the shared virtual clock between a role's creation and its function's first
# CreateFunction. With 8 steps at once, the table's CREATING polls and the calls' latency
# once added up past AWS's typical 6 s first, the role was assumable by then, and the
# refusal this test asks for never came.
SLOW_IAM = dataclasses.replace(FIGURES, role_propagation=60.0)


@pytest.fixture
def model(aws, strict, request):
    """The latency model on moto, the strict layer's own waits off (the model has them);
    ``figures`` by indirect parametrization, else AWS's typical ones."""
    strict.settling_reads, strict.propagation_seconds, strict.deleting_describes = 0, 0, 0
    virtual = clock.VirtualClock()
    figures = getattr(request, "param", FIGURES)
    with clock.use(virtual), LatencyModel(virtual, figures).installed() as latency:
        yield latency


@pytest.mark.parametrize("model", [SLOW_IAM], indirect=True)
@pytest.mark.parametrize("concurrency", [1, 8])
def test_up_waits_out_every_modelled_delay(model, service, concurrency):
    """A fresh `up` meets the table CREATING, functions Pending, roles not yet assumable,
    and still deploys; a code change meets InProgress; `down` leaves nothing."""
    client = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    started = client.clock.now()
    deploy.up(client, service.spec(), concurrency=concurrency)
    figures = model.figures
    assert client.clock.now() - started >= figures.role_propagation + figures.function_pending
    assert model.seen["table CREATING"] >= 1
    assert model.seen["Pending"] >= 1
    assert model.seen["role not yet assumable"] >= 1
    service.handler.write_text(service.handler.read_text() + "# edited\n")
    deploy.up(client, service.spec(), concurrency=concurrency)
    assert model.seen["InProgress"] >= 1
    deploy.down(client, service.spec(), concurrency=concurrency)
    assert_account_empty()


def test_up_right_after_down_meets_the_deleting_table(model, service):
    """`down` returns with the table DELETING (model: 5 s); an `up` at once waits for it."""
    client = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    deploy.up(client, service.spec())
    deploy.down(client, service.spec())
    deploy.up(client, service.spec())
    assert model.seen["table DELETING"] >= 1
