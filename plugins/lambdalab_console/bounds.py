"""The console's own bounds: lambdalab's, not AWS's (AWS's console has no such view).

They keep a console open for an hour from growing the server's memory, and a request
from taking more than it should (docs/reference/console.rst lists them).
"""

#: Lanes (environments) kept; the oldest goes first. The issue's aim is 200 in view.
LANES_KEPT = 200
#: Invokes kept per lane (its latest); the lane still counts them all.
INVOKES_PER_LANE = 100
#: Events waiting for one browser; past it they are dropped for a single ``resync``.
SUBSCRIBER_BUFFER = 256
#: Browser sessions remembered after a right key; the oldest is forgotten first.
SESSIONS_KEPT = 64
#: Bytes a login form or a clock request may have.
BODY_MAX_BYTES = 4096
#: The most one request may move the clock: a year.
CLOCK_STEP_MAX_SECONDS = 366 * 24 * 3600.0
#: Real seconds between comments on an idle stream (proxies and browsers keep it open).
HEARTBEAT_SECONDS = 15.0
#: Rows of a plugin's panel shown (its first ones).
PANEL_ROWS_MAX = 200
#: Invokes whose details (event, result, figures) are kept for a click; the oldest go first.
DETAILS_KEPT = 1000
#: Invokes the invoke list shows (the latest).
INVOKES_LISTED = 100
#: Bytes of an invoke's event, and of its result, kept for its details (the rest is cut).
PAYLOAD_SHOWN_BYTES = 8192
#: Log events one invoke's details show (its first), and characters of each.
LOG_LINES_SHOWN = 500
LOG_LINE_SHOWN_CHARS = 4096
#: Log events of its environment's stream read to find one invoke's lines.
LOG_EVENTS_SCANNED = 20_000
#: Concurrency samples kept for the graph (one per invoke ended or throttled).
CONCURRENCY_SAMPLES_KEPT = 600
#: Functions the metric graphs and the cost what-if cover (the first, as ListFunctions
#: orders them; 50 x 5 series is one GetMetricData, within its 500 queries).
GRAPH_FUNCTIONS_MAX = 50
#: Traces the X-Ray view lists, and draws its service graph from (the newest of the last
#: hour): GetServiceGraph over a busy hour of 2,000 traces took 0.3-2.4 s a read.
TRACES_LISTED = 20
SERVICE_GRAPH_TRACES = 200
#: Bars one trace's timeline draws (its first, in order of their start).
TIMELINE_BARS_MAX = 500
#: Queued async events shown (the oldest first), and ended ones kept (the latest).
QUEUE_ROWS_SHOWN = 200
ASYNC_ENDED_KEPT = 200
#: Log events the log tail shows (the newest), and events read per log group to find them.
LOG_TAIL_ROWS = 100
LOG_TAIL_SCANNED = 1000
#: Characters of a log tail's filter pattern (CloudWatch Logs takes 1024).
LOG_FILTER_MAX_CHARS = 1024
