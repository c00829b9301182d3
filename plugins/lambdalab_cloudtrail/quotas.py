"""CloudTrail's figures that lambdalab applies, in one place
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
and botocore's ``cloudtrail/2013-11-01/service-2.json``)."""

#: The event history keeps the last 90 days of management events.
EVENT_HISTORY_S = 90 * 86_400
#: LookupEvents: events per page, at most and by default (``MaxResults`` 1-50).
LOOKUP_MAX_RESULTS = 50
#: LookupEvents: lookup attributes one call may give ("currently ... only one item").
LOOKUP_ATTRIBUTES_MAX = 1
#: The format of the event records written (``eventVersion``).
EVENT_VERSION = "1.11"
#: ``requestParameters`` or ``responseElements`` larger than this, as JSON, are left out
#: (``null``): CloudTrail keeps at most 100 KB of each.
FIELD_MAX_BYTES = 100 * 1024
#: Levels of nesting kept in those fields (lambdalab's own bound: an input may nest
#: hundreds deep before the protocol layer refuses it, and no AWS input needs this many).
FIELD_MAX_DEPTH = 32
