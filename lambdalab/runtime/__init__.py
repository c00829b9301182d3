"""Code that runs inside the sandbox: the Python runtime and the fork server that starts it."""
