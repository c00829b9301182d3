"""Lab 1: a handler that greets the caller. Deployed with handler ``app.handler``."""


def handler(event, context):
    greeting = f"Hello, {event.get('name', 'world')}!"
    return {
        "greeting": greeting,
        "function": context.function_name,
        "request_id": context.aws_request_id,
    }
