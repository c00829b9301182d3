"""Lab 1: a handler that greets the caller. Deployed with handler ``app.handler``."""


def handler(event, context):
    # TODO: greet the caller by event["name"]; use "world" when there is no name.
    greeting = "Hello, world!"
    # TODO: also return "function" (context.function_name) and
    #       "request_id" (context.aws_request_id).
    return {"greeting": greeting}
