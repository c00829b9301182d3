"""``lambdalab deploy`` of APIs: SAM's ``Api`` and ``HttpApi`` events, ``AWS::Serverless::Api``
and the raw ``AWS::ApiGateway::*``/``AWS::ApiGatewayV2::*`` types, made on the API
Gateway plugin and judged by plain HTTP requests to the edge and boto3's ``apigateway``.

The examples under ``examples/sam/`` (written by us in ``sam init``'s shape) are deployed
from the repository unchanged. ``sam init``'s own hello world, read from
``$SAM_APP_TEMPLATES`` as the quick starts of ``test_deploy.py`` are, is skipped without it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambdalab import Lab
from lambdalab.cli import app as cli
from lambdalab.server import EdgeServer
from lambdalab_cloudformation import DeployFailed, cloudformation_of, local_url

from .edge_support import client_for, edge  # noqa: F401  (fixture)
from .test_apigateway import request
from .test_deploy import built_quick_start, needs_app_templates, needs_node, needs_npm, physical, quick_start

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sam"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, body = request(url, headers=headers)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def output(lab: Lab, stack: str, key: str) -> str:
    found = cloudformation_of(lab).stacks.get(stack)
    assert found is not None
    return str(found.outputs[key]["OutputValue"])


def write(folder: Path, template: str, handler: str) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(textwrap.dedent(handler))
    (folder / "template.yaml").write_text(textwrap.dedent(template))
    return folder / "template.yaml"


# -- the examples ------------------------------------------------------------------------

def test_the_hello_world_example_deploys_unchanged_and_its_output_url_answers(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    result = deployer.deploy("hello-world", EXAMPLES / "hello-world" / "template.yaml")
    assert {"ServerlessRestApi", "ServerlessRestApiProdStage", "HelloWorldFunctionHelloWorldPermissionProd"} <= set(
        result.created)
    api_id = physical(lab, "hello-world", "ServerlessRestApi")
    url = output(lab, "hello-world", "HelloWorldApi")
    assert url == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    assert local_url(lab, url) == f"{edge.url}/_lambdalab/apis/{api_id}/Prod/hello/"
    assert get(local_url(lab, url) or "") == (200, {"message": "hello world"})

    apigw = client_for(edge.url, "apigateway")
    assert [a["id"] for a in apigw.get_rest_apis()["items"]] == [api_id]
    assert sorted(s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]) == ["Prod", "Stage"]
    policy = json.loads(client_for(edge.url).get_policy(FunctionName=physical(lab, "hello-world",
                                                                               "HelloWorldFunction"))["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{api_id}/*/GET/hello")

    again = deployer.deploy("hello-world", EXAMPLES / "hello-world" / "template.yaml")
    assert again.created == again.updated == again.deleted == []
    deployer.delete("hello-world")
    assert apigw.get_rest_apis()["items"] == []
    assert get(local_url(lab, url) or "")[0] == 403  # API Gateway's answer for an API that is not there


def test_the_hello_world_function_answers_its_own_event(lab: Lab, edge: EdgeServer) -> None:  # noqa: F811
    cloudformation_of(lab).deployer.deploy("hello-world", EXAMPLES / "hello-world" / "template.yaml")
    event = (EXAMPLES / "hello-world" / "events" / "event.json").read_text()
    answer = client_for(edge.url).invoke(FunctionName=physical(lab, "hello-world", "HelloWorldFunction"),
                                         Payload=event)
    assert json.loads(answer["Payload"].read()) == {"statusCode": 200, "body": '{"message": "hello world"}'}


def test_the_http_api_example_routes_a_path_parameter_and_its_default_route(
        lab: Lab, edge: EdgeServer) -> None:  # noqa: F811
    cloudformation_of(lab).deployer.deploy("hello-http", EXAMPLES / "hello-world-http" / "template.yaml")
    api_id = physical(lab, "hello-http", "ServerlessHttpApi")
    url = output(lab, "hello-http", "HelloWorldApi")
    assert url == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/hello/world"
    assert get(local_url(lab, url) or "") == (200, {"message": "hello world", "route": "GET /hello/{name}"})
    assert get(f"{edge.url}/_lambdalab/apis/{api_id}/elsewhere") == (404, {"message": "no route /elsewhere"})
    routes = client_for(edge.url, "apigatewayv2").get_routes(ApiId=api_id)["Items"]
    assert sorted(r["RouteKey"] for r in routes) == ["$default", "GET /hello/{name}"]
    event = (EXAMPLES / "hello-world-http" / "events" / "event.json").read_text()
    answer = client_for(edge.url).invoke(FunctionName=physical(lab, "hello-http", "HelloWorldFunction"),
                                         Payload=event)
    assert json.loads(json.loads(answer["Payload"].read())["body"])["message"] == "hello world"


def test_the_deploy_command_says_where_an_api_output_answers_here(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "data"), "deploy", "--template",
                                         str(EXAMPLES / "hello-world" / "template.yaml")])
    assert done.exit_code == 0, done.output
    assert "Stack hello-world: CREATE_COMPLETE" in done.output
    assert "http://127.0.0.1:9001/_lambdalab/apis/" in done.output.replace("\n", "")


@needs_app_templates
def test_sam_init_hello_world_deploys_unchanged_and_its_url_answers(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    template = quick_start(tmp_path / "sam-app", "python3.12/hello")
    cloudformation_of(lab).deployer.deploy("sam-app", template)
    url = output(lab, "sam-app", "HelloWorldApi")
    assert get(local_url(lab, url) or "") == (200, {"message": "hello world"})
    own_event = (tmp_path / "sam-app" / "events" / "event.json").read_text()
    answer = client_for(edge.url).invoke(FunctionName=physical(lab, "sam-app", "HelloWorldFunction"),
                                         Payload=own_event)
    assert json.loads(answer["Payload"].read()) == {"statusCode": 200, "body": '{"message": "hello world"}'}



@needs_node
@needs_npm
@needs_app_templates
def test_sam_init_web_quick_start_built_puts_and_gets_items_through_its_api(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    cloudformation_of(lab).deployer.deploy("sam-app", built_quick_start(tmp_path / "sam-app", "nodejs22.x/web"))
    url = local_url(lab, output(lab, "sam-app", "WebEndpoint")) or ""
    own_post = json.loads((tmp_path / "sam-app" / "events" / "event-post-item.json").read_text())
    item = json.loads(own_post["body"])
    status, _, body = request(url, "POST", own_post["body"].encode(), {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (200, item)
    # the handlers reach the lab's DynamoDB through the SDK v3 DocumentClient
    assert get(url) == (200, [item])
    assert get(f"{url}{item['id']}") == (200, item)
    table = physical(lab, "sam-app", "SampleTable")
    stored = client_for(edge.url, "dynamodb").get_item(TableName=table, Key={"id": {"S": item["id"]}})
    assert stored["Item"] == {"id": {"S": item["id"]}, "name": {"S": item["name"]}}

# -- more of SAM: an explicit Api with an authorizer, updates ---------------------------------

AUTHORIZED = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src}
Resources:
  ShopApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Auth:
        DefaultAuthorizer: TokenCheck
        Authorizers:
          TokenCheck:
            FunctionArn: !GetAtt Checker.Arn
  Checker:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.authorize}
  Items:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.items
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref ShopApi, Path: '/items/{id}', Method: get}
Outputs:
  ItemUrl:
    Value: !Sub "https://${ShopApi}.execute-api.${AWS::Region}.amazonaws.com/dev/items/7"
"""
SHOP = """\
import json

def authorize(event, context):
    effect = "Allow" if event["authorizationToken"] == "let-me-in" else "Deny"
    return {"principalId": "learner", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}

def items(event, context):
    return {"statusCode": 200, "body": json.dumps({"id": event["pathParameters"]["id"],
                                                   "stage": event["requestContext"]["stage"]})}
"""


def test_a_serverless_api_with_a_token_authorizer_lets_only_the_right_token_in(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    cloudformation_of(lab).deployer.deploy("shop", write(tmp_path / "shop", AUTHORIZED, SHOP))
    url = local_url(lab, output(lab, "shop", "ItemUrl")) or ""
    assert get(url)[0] == 401
    assert get(url, {"Authorization": "wrong"})[0] == 403
    assert get(url, {"Authorization": "let-me-in"}) == (200, {"id": "7", "stage": "dev"})


ONE_ROUTE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src
      Handler: app.handler
      Events:
        Hello: {Type: Api, Properties: {Path: /hello, Method: get}}
Outputs:
  Base:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod"
"""
GREETER = """\
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event["path"], "method": event["httpMethod"]})}
"""


def test_a_new_api_event_in_an_update_answers_and_the_old_one_still_does(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = write(tmp_path / "app", ONE_ROUTE, GREETER)
    deployer.deploy("app", template)
    template.write_text(ONE_ROUTE.replace(
        "Hello: {Type: Api, Properties: {Path: /hello, Method: get}}",
        "Hello: {Type: Api, Properties: {Path: /hello, Method: get}}\n"
        "        Bye: {Type: Api, Properties: {Path: /bye, Method: post}}"))
    deployer.deploy("app", template)
    base = local_url(lab, output(lab, "app", "Base"))
    assert get(f"{base}/hello") == (200, {"path": "/hello", "method": "GET"})
    status, _, body = request(f"{base}/bye", "POST", b"{}")
    assert (status, json.loads(body)) == (200, {"path": "/bye", "method": "POST"})
    assert len(client_for(edge.url, "apigateway").get_rest_apis()["items"]) == 1


# -- plain CloudFormation: the types the translator emits, written by hand ---------------------

RAW = """\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Echo:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import json
          def handler(event, context):
              path = event.get("path") or event.get("rawPath")
              return {"statusCode": 200, "body": json.dumps({"path": path, "v": event.get("version", "1.0")})}
  Allow:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Echo, Action: lambda:InvokeFunction, Principal: apigateway.amazonaws.com}
  Rest:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: raw}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Rest, ParentId: !GetAtt Rest.RootResourceId, PathPart: items}
  ItemsGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Rest
      ResourceId: !Ref Items
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Echo.Arn}/invocations"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: ItemsGet
    Properties: {RestApiId: !Ref Rest}
  Live:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Rest, DeploymentId: !Ref Deployment, StageName: live}
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: raw-http, ProtocolType: HTTP}
  HttpIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Http, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Echo.Arn,
                 PayloadFormatVersion: '2.0'}
  HttpRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Http, RouteKey: 'GET /things/{id}', Target: !Sub "integrations/${HttpIntegration}"}
  HttpStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Http, StageName: $default, AutoDeploy: true}
Outputs:
  RestUrl:
    Value: !Sub "https://${Rest}.execute-api.${AWS::Region}.amazonaws.com/${Live}/items"
  HttpUrl:
    Value: !Sub "https://${Http}.execute-api.${AWS::Region}.amazonaws.com/things/3"
"""


def test_raw_api_gateway_types_make_working_rest_and_http_apis(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "raw.yaml"
    path.write_text(RAW)
    cloudformation_of(lab).deployer.deploy("raw", path)
    assert get(local_url(lab, output(lab, "raw", "RestUrl")) or "") == (200, {"path": "/items", "v": "1.0"})
    assert get(local_url(lab, output(lab, "raw", "HttpUrl")) or "") == (200, {"path": "/things/3", "v": "2.0"})
    cloudformation_of(lab).deployer.delete("raw")
    assert client_for(edge.url, "apigatewayv2").get_apis()["Items"] == []


def test_a_non_lambda_integration_fails_the_deploy_and_leaves_no_api(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "mock.yaml"
    path.write_text(RAW.replace("Type: AWS_PROXY\n", "Type: HTTP_PROXY\n"))
    with pytest.raises(DeployFailed, match=r"ItemsGet \(AWS::ApiGateway::Method\).*AWS_PROXY"):
        cloudformation_of(lab).deployer.deploy("raw", path)
    assert client_for(edge.url, "apigateway").get_rest_apis()["items"] == []
    assert lab.list_functions() == []


def test_outputs_that_are_not_api_urls_have_no_local_url(lab: Lab) -> None:
    assert local_url(lab, "arn:aws:lambda:us-east-1:000000000000:function:f") is None
    assert local_url(lab, {"Fn::Sub": "x"}) is None
    assert local_url(lab, "https://abc.execute-api.us-east-1.amazonaws.com") == (
        "http://127.0.0.1:9001/_lambdalab/apis/abc/")
