"""Lab 7: a deploy script that ships new code as a 10 % canary behind alias ``live``.

``lab`` is a lambdalab.Lab: its methods mirror boto3's Lambda client
(update_function_code, publish_version, get_alias, update_alias, ...).
"""

CANARY_WEIGHT = 0.1  # the share of `live` traffic the new version gets


def release(lab, name, code_dir):
    """Publish ``code_dir`` as a new version of ``name``; make it the canary of ``live``.

    Returns the new version number, as a string (e.g. "2").
    """
    lab.update_function_code(name, code_dir)
    new = lab.publish_version(name).version
    stable = lab.get_alias(name, "live").function_version
    lab.update_alias(
        name,
        "live",
        function_version=stable,
        routing_config={"AdditionalVersionWeights": {new: CANARY_WEIGHT}},
    )
    return new
