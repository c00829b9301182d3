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
    # TODO: a part's own time is its duration minus what ran inside it: its own
    # subsegments, and the segments of any function it called (their "parent_id" is
    # its "id"). Lambda's own parts (LAMBDAS_OWN) are not what you are looking for.
    longest = max(everything, key=duration)
    # TODO: the share is of the whole trace: the segment that has no parent_id.
    return longest["name"], 1.0
