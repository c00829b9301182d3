"""X-Ray's limits and defaults, as AWS documents them: this plugin's own, apart from
Lambda's (:mod:`lambdalab.limits`), so core knows nothing of X-Ray."""

# -- X-Ray (https://docs.aws.amazon.com/xray/latest/devguide/xray-api.html)
#: Lambda's sampling of an ``Active`` function's invokes, which cannot be changed: the
#: first request each second and 5 % of the rest
#: (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html).
XRAY_SAMPLING_RESERVOIR_PER_S = 1
XRAY_SAMPLING_RATE = 0.05
#: One segment document, sent to the daemon or to PutTraceSegments: 64 KB
#: (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html).
XRAY_SEGMENT_DOCUMENT_MAX_BYTES = 64 * 1024
#: How long X-Ray keeps a trace (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html).
XRAY_TRACE_RETENTION_DAYS = 30
#: lambdalab's own cap on the segment documents one data dir keeps; past it the oldest go.
XRAY_SEGMENTS_MAX = 100_000
#: lambdalab's own page size for GetTraceSummaries and BatchGetTraces.
XRAY_PAGE_MAX = 100
#: lambdalab's own bounds on the ``cause`` it records for a handler's error, so that the
#: function segment stays under the 64 KB a document may have: the exception's message
#: (characters), its stack (frames; the rest are counted in ``truncated``) and each
#: frame's path and function name (characters).
XRAY_CAUSE_MESSAGE_MAX_CHARS = 2048
XRAY_CAUSE_STACK_FRAMES_MAX = 64
XRAY_CAUSE_FRAME_MAX_CHARS = 256
