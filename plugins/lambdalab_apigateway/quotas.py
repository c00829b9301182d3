"""API Gateway's limits, as AWS documents them: this plugin's own, apart from Lambda's
(:mod:`lambdalab.limits`), so core knows nothing of API Gateway."""

#: A request's payload is at most 10 MB
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html); what reaches
#: the function is then bounded by Lambda's 6 MB synchronous payload.
APIGATEWAY_PAYLOAD_MAX_BYTES = 10 * 1024 * 1024
#: GetRestApis, GetResources: ``limit`` is at most 500
#: (https://docs.aws.amazon.com/apigateway/latest/api/API_GetRestApis.html).
APIGATEWAY_PAGE_MAX = 500
#: UpdateRestApi's ``/minimumCompressionSize``: 0 to 10 MB
#: (https://docs.aws.amazon.com/apigateway/latest/api/API_RestApi.html).
APIGATEWAY_COMPRESSION_MAX_BYTES = 10 * 1024 * 1024
#: An HTTP API integration's ``TimeoutInMillis``: 50 ms to 30 s
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
HTTP_INTEGRATION_TIMEOUT_MIN_MS = 50
HTTP_INTEGRATION_TIMEOUT_MAX_MS = 30_000
#: An authorizer's result is cached for at most an hour
#: (https://docs.aws.amazon.com/apigateway/latest/api/API_CreateAuthorizer.html).
AUTHORIZER_TTL_MAX_S = 3600
#: How long a JWT authorizer waits for its issuer's discovery document and JWKS (lambdalab's
#: own bound: a request must not hang on an issuer that does not answer).
JWKS_FETCH_TIMEOUT_S = 5
#: How large an issuer's discovery document or JWKS may be (lambdalab's own bound).
JWKS_MAX_BYTES = 256 * 1024
#: The account's default throttle: 10,000 requests per second with a burst of 5,000, per
#: Region (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
ACCOUNT_RATE_LIMIT = 10_000.0
ACCOUNT_BURST_LIMIT = 5_000
#: A usage plan's quota periods (botocore's ``QuotaPeriodType``).
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
#: How many days one GetUsage may span (lambdalab's own bound: the answer has a row a day).
USAGE_DAYS_MAX = 366
#: A REST API's resource policy is at most 8,192 characters
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
POLICY_MAX_CHARS = 8192
#: A mapping template's ``#foreach`` runs at most 1,000 times
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html).
TEMPLATE_FOREACH_MAX = 1000
#: How many ``#foreach`` rounds one rendering may run in all, nested loops included
#: (lambdalab's own bound: nested loops of 1,000 would otherwise run for hours).
TEMPLATE_ITERATIONS_MAX = 100_000
#: How large a rendered template, or any string or list it makes, may grow (lambdalab's own
#: bound, the request payload's: a template that doubles a string must not fill memory).
TEMPLATE_VALUE_MAX = APIGATEWAY_PAYLOAD_MAX_BYTES
#: How long one regular expression of a template (``matches``, ``replaceAll``, ``split``)
#: may run (lambdalab's own bound: AWS documents none; a pattern that backtracks without
#: end would otherwise hold the request).
TEMPLATE_REGEX_TIMEOUT_S = 1.0
#: A REST API integration's ``timeoutInMillis``: 50 ms to 29 s
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
REST_INTEGRATION_TIMEOUT_MIN_MS = 50
REST_INTEGRATION_TIMEOUT_MAX_MS = 29_000
