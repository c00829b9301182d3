"""Lab 16: where did the time of a request go? Read its X-Ray trace."""

#: The parts Lambda records for every function; the handler's own calls run inside
#: Invocation.
LAMBDAS_OWN = {"Initialization", "Invocation", "Overhead"}


def duration(doc):
    return doc["end_time"] - doc["start_time"]


def parts(doc):
    """Every subsegment under a segment or subsegment, at any depth."""
    for sub in doc.get("subsegments", []):
        yield sub
        yield from parts(sub)


def slowest_part(segments):
    """The name of the part of the trace that took the most time of its own, and its
    share of the whole trace's time (a fraction: 0.5 is half).

    ``segments`` are the trace's segment documents, as BatchGetTraces gives them
    (each ``Document`` parsed from JSON).
    """
    everything = [sub for segment in segments for sub in parts(segment)]
    downstream = {}
    for segment in segments:
        if segment.get("parent_id"):
            downstream.setdefault(segment["parent_id"], []).append(segment)
    own = {}
    for sub in everything:
        if sub["name"] in LAMBDAS_OWN:
            continue
        inside = sub.get("subsegments", []) + downstream.get(sub["id"], [])
        own[sub["name"]] = duration(sub) - sum(duration(d) for d in inside)
    name = max(own, key=own.get)
    root = next(s for s in segments if not s.get("parent_id"))
    return name, own[name] / duration(root)
