"""Lab 9: connect the photos bucket to the thumbnail function.

S3 is a *push* source: the configuration lives on the bucket, not on the function, and
S3 may only invoke a function whose resource policy allows it.
"""

PHOTOS = "photos"


def connect(lab, s3, function_name):
    """Make every ``.jpg`` uploaded to PHOTOS invoke ``function_name``.

    ``lab`` is a lambdalab.Lab; ``s3`` is lambdalab_s3.S3.of(lab), with boto3's method
    names in snake_case.
    """
    function_arn = lab.get_function_configuration(function_name).function_arn
    # TODO: allow S3 to invoke the function: lab.add_permission(function_name, statement_id,
    #       "lambda:InvokeFunction", "s3.amazonaws.com", source_arn="arn:aws:s3:::" + PHOTOS)
    # TODO: put a notification configuration on PHOTOS with one LambdaFunctionConfiguration:
    #       the function's ARN, the events ["s3:ObjectCreated:*"] and a suffix filter ".jpg".
