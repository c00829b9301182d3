"""Lab 18: a stream of orders, each customer's in order, four batches at once."""

#: How many shards the orders stream has.
SHARDS = 1  # TODO: how many batches can Lambda process from one shard at once?

#: How many batches of one shard the mapping processes at once (1 to 10).
PARALLELIZATION_FACTOR = 1


def partition_key(order):
    """The partition key an order is put with, e.g. for
    {"id": "o-0007", "customer": "customer-07", "region": "eu", "n": 1}."""
    return order["id"]  # TODO: which records must stay in order with each other?
