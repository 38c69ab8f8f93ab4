"""Schemathesis hooks for the hub's batch media type (loaded through SCHEMATHESIS_HOOKS by
Scripts/api-check.sh): a generated body for `application/x-posnode-batch` is sent as its
bytes, as for application/octet-stream."""
import schemathesis
from schemathesis.transport.serialization import serialize_binary


@schemathesis.serializer("application/x-posnode-batch")
def posnode_batch(ctx, value):
    return {"data": serialize_binary(value)}
