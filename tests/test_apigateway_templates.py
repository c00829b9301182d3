"""Non-proxy (``AWS``) Lambda integrations and ``MOCK`` integrations through mapping
templates (Velocity, rendered by airspeed): request templates by content type,
``passthroughBehavior``, ``$input``/``$context``/``$stageVariables``/``$util``, integration
responses selected by ``selectionPattern`` over the function's ``errorMessage``
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html)
— boto3 and plain HTTP against a real edge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalab.server import EdgeServer
from lambdalab_apigateway import templates

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_apigateway import allow_apigateway, request

ECHO = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("BadRequest: " + event["fail"])
    return {"got": event}
"""
REQUEST_TEMPLATE = """{
  "id": "$input.params('id')",
  "q": "$util.escapeJavaScript($input.params('q'))",
  "name": $input.json('$.name'),
  "stage": "$context.stage",
  "env": "$stageVariables.env"
  #if($input.path('$.fail') != "") ,"fail": "$input.path('$.fail')" #end
}"""


def _method(apigw: Any, api_id: str, resource_id: str, uri: str, **integration: Any) -> None:
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="POST", type="AWS",
                          integrationHttpMethod="POST", uri=uri, **integration)
    for status in ("200", "400"):
        apigw.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="POST", statusCode=status)
    apigw.put_integration_response(restApiId=api_id, resourceId=resource_id, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"echo": $input.json(\'$.got\')}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource_id, httpMethod="POST", statusCode="400",
                                   selectionPattern="BadRequest: .*",
                                   responseTemplates={"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'})


@pytest.fixture
def api(client: Any, edge: EdgeServer) -> dict[str, Any]:
    """``POST /items/{id}`` (templates, WHEN_NO_TEMPLATES) and ``POST /raw`` (no templates, NEVER)."""
    arn = create(client, "tmpl", ECHO)["FunctionArn"]
    allow_apigateway(client, "tmpl")
    apigw = client_for(edge.url, "apigateway")
    made = apigw.create_rest_api(name="mapped")
    root = made["rootResourceId"]
    items = apigw.create_resource(restApiId=made["id"], parentId=root, pathPart="items")
    item = apigw.create_resource(restApiId=made["id"], parentId=items["id"], pathPart="{id}")
    raw = apigw.create_resource(restApiId=made["id"], parentId=root, pathPart="raw")
    _method(apigw, made["id"], item["id"], arn, requestTemplates={"application/json": REQUEST_TEMPLATE},
            passthroughBehavior="WHEN_NO_TEMPLATES")
    _method(apigw, made["id"], raw["id"], arn, passthroughBehavior="NEVER")
    apigw.create_deployment(restApiId=made["id"], stageName="prod", variables={"env": "dev"})
    return {"url": f"{edge.url}/_lambdalab/apis/{made['id']}/prod", "client": apigw, "id": made["id"]}


def _post(url: str, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
    status, _, data = request(url, "POST", json.dumps(body).encode(), {"Content-Type": content_type})
    return status, json.loads(data)


def test_request_and_response_templates_map_both_ways(api: dict[str, Any]) -> None:
    status, body = _post(api["url"] + "/items/7?q=say%20%22hi%22", {"name": {"first": "Ada"}})
    assert status == 200
    assert body == {"echo": {"id": "7", "q": 'say "hi"', "name": {"first": "Ada"}, "stage": "prod", "env": "dev"}}


def test_the_error_message_selects_the_integration_response(api: dict[str, Any]) -> None:
    assert _post(api["url"] + "/items/7", {"name": "x", "fail": "no name"}) == (400, {"error": "BadRequest: no name"})


def test_passthrough_behavior(api: dict[str, Any]) -> None:
    """WHEN_NO_TEMPLATES with a template for another type, and NEVER, answer 415."""
    unsupported = (415, {"message": "Unsupported Media Type"})
    assert _post(api["url"] + "/items/7", {"name": "x"}, "text/plain") == unsupported
    assert _post(api["url"] + "/raw", {"name": "x"}) == unsupported


def test_a_template_that_fails_is_a_500_not_a_crash(api: dict[str, Any]) -> None:
    status, _, data = request(api["url"] + "/items/7", "POST", b"not json", {"Content-Type": "application/json"})
    assert (status, json.loads(data)) == (500, {"message": "Internal server error"})


BODY = '{"a": {}, "n": null, "flag": true, "obj": {"k": 1, "l": [1, "x"]}}'
#: (template, what API Gateway writes): null references as
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
#: and API Gateway's Velocity write them (nothing, where plain Velocity prints the reference).
NULLS = [
    ("[$input.path('$.missing')]", "[]"),
    ("[$input.path('$.n')]", "[]"),
    ("[$input.json('$.missing')]", "[]"),
    ("[$input.json('$.a.b')]", "[]"),
    ("[$input.json('$.a.b.c')]", "[]"),
    ("[$input.json('$.n')]", "[null]"),
    ("[$input.json('$.flag')]", "[true]"),
    ("[$context.authorizer.missing]", "[]"),
    ("[$context.nothing.deeper]", "[]"),
    ("[$context.authorizer.principalId]", "[me]"),
    ("[$context.authorizer.numKey]", "[1]"),
    ("[$context.authorizer.boolKey]", "[true]"),
    ("[$util.escapeJavaScript($null)]", "[]"),
    ("[$util.escapeJavaScript($input.path('$.missing'))]", "[]"),
    ("[$util.urlEncode($nothing)]", "[]"),
    ("[$util.base64Encode($nothing)]", "[]"),
    ("[$stageVariables.missing]", "[]"),
    ("[$input.path('$.missing').size()]", "[]"),
    ("[$nothing]", "[]"),
    ("[${nothing}]", "[]"),
    ("[$!nothing]", "[]"),
    ("[${nothing|'fallback'}]", "[fallback]"),
    ("#if($x)yes#{else}no#end", "no"),
    ("#if($context.authorizer.missing)yes#{else}no#end", "no"),
    ("#if($input.path('$.missing'))yes#{else}no#end", "no"),
    ("#if($input.path('$.missing') == \"\")empty#end", "empty"),
    ("#foreach($i in $nothing)x#end.", "."),
    ("[$input.path('$.flag')]", "[true]"),
    ("[$input.path('$.obj')]", "[{k=1, l=[1, x]}]"),
    ("[$util.escapeJavaScript($input.path('$.flag'))]", "[true]"),
    ("cost: $ 5, \\$escaped", "cost: $ 5, $escaped"),
]


@pytest.mark.parametrize(("template", "written"), NULLS)
def test_null_references_render_as_api_gateway_renders_them(template: str, written: str) -> None:
    context = {"stage": "prod", "authorizer": {"principalId": "me", "numKey": 1, "boolKey": True}}
    assert templates.render(template, templates.Input(BODY, {}), context, {}) == written


def test_a_template_with_absent_values_reaches_the_function_as_json(api: dict[str, Any]) -> None:
    """Through the edge: what a learner's template makes of a request missing its fields
    is the JSON the function gets (no ``$input.path(...)`` left in it as text)."""
    apigw, api_id = api["client"], api["id"]
    item = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")
    template = ('{"name": "$util.escapeJavaScript($input.path(\'$.name\'))", "who": "$context.authorizer.principalId",'
                ' "raw": "$input.json(\'$.absent\')", "tag": "$stageVariables.tag"'
                ' #if($input.path(\'$.name\') != ""), "named": true#end}')
    apigw.update_integration(restApiId=api_id, resourceId=item["id"], httpMethod="POST", patchOperations=[
        {"op": "replace", "path": "/requestTemplates/application~1json", "value": template}])
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert _post(api["url"] + "/items/7", {}) == (200, {"echo": {"name": "", "who": "", "raw": "", "tag": ""}})


#: (template, what the refusal says): each bounded before it hangs or fills memory.
HOSTILE = [
    ("#foreach($i in [1..100000000])x#end", "#foreach over 100000000 items: API Gateway runs at most 1000"),
    ("#foreach($i in [1..1000])#foreach($j in [1..1000])x#end#end", "more than 100000 #foreach rounds"),
    ("#set($s = 'xxxxxxxxxx')#foreach($i in [1..40])#set($s = \"$s$s\")#end", "a value of more than 10485760"),
    ("#set($s = 'xxxxxxxxxx')#foreach($i in [1..40])#set($s = $s + $s)#end", "a value of more than 10485760"),
    ("#set($x = 'ab' * 100000000)", "a value of more than 10485760"),
    ("#set($s = 'x' * 1000000)$s.replace('x', $s)", "a value of more than 10485760"),
    ("#set($s = 'x' * 1000000)$s.replaceAll('x', $s)", "a value of more than 10485760"),
    ("#set($s = 'x' * 100000)#foreach($i in [1..1000])$s#end", "wrote more than 10485760 characters"),
    ("$util.__class__", "__class__: a name beginning with _ is not Velocity's"),
    ("$input._params", "_params: a name beginning with _ is not Velocity's"),
    ("#macro(m)#m()#end#m()", "The mapping template failed"),
    # patterns that backtrack without end: each stopped by the regular expressions' timeout
    ("#set($s = 'a' * 60 + '!')$s.matches('(a|aa)+')", "a regular expression ran past 1 s"),
    ("#set($s = 'a' * 60 + '!')$s.replaceAll('(a|aa)+$', 'x')", "a regular expression ran past 1 s"),
    ("#set($s = 'a' * 60 + '!')$s.split('(a|aa)+$')", "a regular expression ran past 1 s"),
]


TEXT = json.dumps({"s": "  Hello, World  ", "csv": "a,b,,c,,", "l": ["x", "y"], "m": {"k": 1, "j": "v"}})
#: (template, written): the Java methods API Gateway's Velocity offers on a String, a List
#: and a Map (https://docs.oracle.com/javase/8/docs/api/java/lang/String.html), as Java answers.
JAVA = [
    ("#set($s = $input.path('$.s'))$s.trim().length()", "12"),
    ("#set($s = $input.path('$.s'))[$s.trim().toLowerCase()][$s.toUpperCase().trim()]", "[hello, world][HELLO, WORLD]"),
    ("#set($s = $input.path('$.s').trim())$s.substring(7) $s.substring(0, 5) $s.charAt(1)", "World Hello e"),
    ("#set($s = $input.path('$.s'))$s.indexOf('o') $s.indexOf('o', 7) $s.lastIndexOf('o') $s.indexOf('z')", "6 10 10 -1"),
    ("#set($s = $input.path('$.s').trim())$s.replace('l', 'L') $s.replaceAll('(o)', '[$1]')", "HeLLo, WorLd Hell[o], W[o]rld"),
    ("#set($s = $input.path('$.s').trim())$s.replaceFirst('l+', '_') $s.concat('!')", "He_o, World Hello, World!"),
    ("#set($s = $input.path('$.s').trim())$s.startsWith('He') $s.endsWith('d') $s.contains('lo,')", "true true true"),
    ("#set($s = $input.path('$.s').trim())$s.matches('Hello.*') $s.matches('ello') $s.equals('Hello, World')",
     "true false true"),
    ("#set($s = $input.path('$.s'))$s.isEmpty() $s.empty $input.path('$.missing').isEmpty()", "false false "),
    ("$input.path('$.csv').split(',') $input.path('$.csv').split(',').size()", "[a, b, , c] 4"),
    ("#set($l = $input.path('$.l'))$l.size() $l.get(1) $l.contains('x') $l.isEmpty()", "2 y true false"),
    ("#set($m = $input.path('$.m'))$m.get('k') $m.j $m.containsKey('j') $m.size() $m.keySet() $m.values()",
     "1 v true 2 [k, j] [1, v]"),
    ("#foreach($e in $input.path('$.m').entrySet())$e.key=$e.value;#end", "k=1;j=v;"),
    ("#set($l = [])#set($m = {})$l.add('a') $l $m.put('k', 1) $m.put('k', 2) $m", "true [a]  1 {k=2}"),
    ("$input.params().size() $util.escapeJavaScript('\"')", "0 \\\""),
]


@pytest.mark.parametrize(("template", "written"), JAVA)
def test_java_methods_answer_as_java(template: str, written: str) -> None:
    assert templates.render(template, templates.Input(TEXT, {}), {}, {}) == written


#: (template, what the refusal says): Python's methods, which Java's types lack, and
#: members ``$util`` and ``$input`` do not have.
NOT_JAVA = [
    ("$input.path('$.s').ljust(50)", "ljust(): not a method of Java's String"),
    ("$input.path('$.s').format(1)", "format(): not a method of Java's String"),
    ("$input.path('$.s').upper()", "upper(): not a method of Java's String"),
    ("$input.path('$.l').append(1)", "append(): not a method of Java's List"),
    ("$input.path('$.l').pop()", "pop(): not a method of Java's List"),
    ("$input.path('$.m').items()", "items(): not a method of Java's Map"),
    ("$input.path('$.m').clear()", "clear(): not a method of Java's Map"),
    ("$input.path('$.m.k').bit_length()", "bit_length(): not a method of Java's Integer"),
    ("$input.path('$.m.k').to_bytes(100000000000, 'big')", "to_bytes(): not a method of Java's Integer"),
    ("$util.format", "format: API Gateway's $util has no such member"),
    ("$input.foo", "foo: API Gateway's $input has no such member"),
    ("$input.path('$.s').substring(40)", "substring: String index out of range"),
    ("$input.path('$.l').get(5)", "get: Index 5 out of bounds for length 2"),
    ("$input.path('$.s').matches('(')", "matches: bad regular expression"),
    ("$input.path('$.s').substring('a', 'b')", "substring: String.substring cannot take these arguments"),
]


@pytest.mark.parametrize(("template", "said"), HOSTILE + NOT_JAVA)
def test_a_hostile_template_fails_instead_of_hanging(template: str, said: str) -> None:
    """Each refused by name, as the template's 500 (only Java's methods API Gateway offers are called)."""
    with pytest.raises(templates.TemplateFailed) as failed:
        templates.render(template, templates.Input(TEXT, {}), {}, {})
    assert said in str(failed.value)


def test_a_loop_of_a_thousand_still_runs() -> None:
    written = templates.render("#foreach($i in [1..1000])#foreach($j in [1..99])#end$i,#end",
                               templates.Input("{}", {}), {}, {})
    assert written.split(",")[-2] == "1000"


def test_the_accept_header_selects_the_response_template(api: dict[str, Any]) -> None:
    """An integration response with a ``text/html`` template (AWS's "return HTML from a
    Lambda function" shape): ``Accept: text/html`` selects it, and the method's declared
    ``Content-Type`` is the response's; no ``Accept`` or an unknown one selects
    ``application/json``'s."""
    apigw, api_id = api["client"], api["id"]
    item = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")
    where = {"restApiId": api_id, "resourceId": item["id"], "httpMethod": "POST", "statusCode": "200"}
    apigw.put_method_response(**where, responseParameters={"method.response.header.Content-Type": False})
    apigw.put_integration_response(**where, responseParameters={"method.response.header.Content-Type": "'text/html'"},
                                   responseTemplates={"application/json": '{"id": "$input.path(\'$.got.id\')"}',
                                                      "text/html": "<p>$input.path('$.got.id')</p>"})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    body = json.dumps({"name": "x"}).encode()
    status, headers, data = request(api["url"] + "/items/7", "POST", body,
                                    {"Content-Type": "application/json", "Accept": "text/html"})
    assert (status, headers["content-type"], data) == (200, "text/html", b"<p>7</p>")
    for accept in ({}, {"Accept": "application/xml"}):
        status, _, data = request(api["url"] + "/items/7", "POST", body, {"Content-Type": "application/json", **accept})
        assert (status, json.loads(data)) == (200, {"id": "7"})


ITEMS = json.dumps({"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3}], "name": "top"})
#: (template, written): JSONPath wildcards, deep scans and slices name lists, as Jayway's
#: JsonPath (AWS's) answers an indefinite path.
PATHS = [
    ("$input.json('$.items[*].id')", "[1, 2, 3]"),
    ("$input.json('$.items[-1].id')", "3"),
    ("$input.json('$.items[0:2].id')", "[1, 2]"),
    ("$input.json('$.items[*].missing')", "[]"),
    ("$input.path('$.items[*].id').size()", "3"),
    ("#foreach($n in $input.path('$..name'))$n,#end", "top,a,b,"),
    ("$input.json('$.items.*.name')", '["a", "b"]'),
    ("$input.json(\"$['items'][1]['name']\")", '"b"'),
]


@pytest.mark.parametrize(("template", "written"), PATHS)
def test_indefinite_json_paths_name_lists(template: str, written: str) -> None:
    assert templates.render(template, templates.Input(ITEMS, {}), {}, {}) == written


def test_a_filter_is_refused_by_name() -> None:
    with pytest.raises(templates.TemplateFailed, match="filters and other expressions are not served"):
        templates.render("$input.json('$.items[?(@.id > 1)]')", templates.Input(ITEMS, {}), {}, {})
