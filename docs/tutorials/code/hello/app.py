"""A first Lambda handler: greet the caller and count invocations."""

print("INIT: importing app.py")  # module-level code runs once per environment

invocations = 0  # a module global: it lives as long as the environment


def handler(event, context):
    global invocations
    invocations += 1
    print(f"Hello from {context.function_name}, invocation {invocations}")
    return {
        "message": f"Hello, {event.get('name', 'world')}!",
        "invocations": invocations,
        "memory": context.memory_limit_in_mb,
    }
