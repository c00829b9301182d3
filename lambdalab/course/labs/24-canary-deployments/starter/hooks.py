"""The PreTraffic hook: CodeDeploy invokes it before the new version gets any order.

It tries the new version with a smoke test and tells CodeDeploy how that went, with
PutLifecycleEventHookExecutionStatus: "Succeeded" lets traffic shift, "Failed" stops
the deployment before any order reaches the new code.
"""

import json
import os

import boto3

lambda_client = boto3.client("lambda")
codedeploy = boto3.client("codedeploy")

SMOKE_ORDER = {"items": [{"sku": "tea", "price": 4}]}


def pre_traffic(event, context):
    answer = lambda_client.invoke(FunctionName=os.environ["NEW_VERSION"],
                                  Payload=json.dumps(SMOKE_ORDER))
    works = "FunctionError" not in answer and json.loads(answer["Payload"].read()).get("total") == 4
    print("smoke test of", os.environ["NEW_VERSION"], "passed" if works else "failed")
    # TODO: CodeDeploy waits for this hook's verdict. Report it: the event has the
    # DeploymentId and the LifecycleEventHookExecutionId to report on.
