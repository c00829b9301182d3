"""The hello world function: API Gateway's proxy event in, a proxy response out.

API Gateway's Lambda proxy integration, payload format 1.0:
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
"""

import json


def lambda_handler(event, context):
    """Answer every request with a greeting.

    event: the request as API Gateway passes it (``httpMethod``, ``path``, ``headers``,
    ``queryStringParameters``, ``requestContext``...).
    context: the invocation's runtime information (request id, remaining time...).

    The answer must be an object of ``statusCode``, ``headers`` and a ``body`` string:
    anything else is API Gateway's 502.
    """
    return {
        "statusCode": 200,
        "body": json.dumps({"message": "hello world"}),
    }
