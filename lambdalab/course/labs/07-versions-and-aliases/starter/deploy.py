"""Lab 7: a deploy script that ships new code as a 10 % canary behind alias ``live``.

``lab`` is a lambdalab.Lab: its methods mirror boto3's Lambda client
(update_function_code, publish_version, get_alias, update_alias, ...).
"""

CANARY_WEIGHT = 0.1  # the share of `live` traffic the new version gets


def release(lab, name, code_dir):
    """Publish ``code_dir`` as a new version of ``name``; make it the canary of ``live``.

    Returns the new version number, as a string (e.g. "2").
    """
    # TODO 1: upload code_dir as the function's new $LATEST code.
    # TODO 2: publish a version; the result's .version is the new version number.
    # TODO 3: find the version alias "live" points at now (the stable one).
    # TODO 4: keep "live" on the stable version and route CANARY_WEIGHT to the new one
    #         (routing_config={"AdditionalVersionWeights": {...}}).
    # TODO 5: return the new version number.
    return None
