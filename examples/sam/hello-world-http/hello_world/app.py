"""The hello world of an HTTP API: payload format 2.0 in, a response out.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
"""

import json


def lambda_handler(event, context):
    """Greet the ``{name}`` of ``GET /hello/{name}``; any other route reaches ``$default``.

    event: the request in payload format 2.0 (``routeKey``, ``rawPath``,
    ``pathParameters``, ``requestContext.http``...).
    """
    name = (event.get("pathParameters") or {}).get("name")
    if name is None:
        return {"statusCode": 404, "body": json.dumps({"message": f"no route {event['rawPath']}"})}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": f"hello {name}", "route": event["routeKey"]})}
