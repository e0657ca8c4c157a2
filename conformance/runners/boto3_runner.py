"""boto3 runner of coffer's conformance suite (conformance/README.md).

Usage: python3 boto3_runner.py ENDPOINT. Credentials, region and retries come from the
environment. Prints {"client": ...} once, then answers each {"op", "input"} line on standard
input with one {"ok", "output"|"error"} line. It never prints or logs an input.
"""
import base64
import datetime
import json
import sys

import boto3
import botocore
from botocore.exceptions import ClientError, ParamValidationError


def decode(v):
    """Turns {"$base64": s} into bytes, as boto3 takes blobs."""
    if isinstance(v, dict):
        if len(v) == 1 and "$base64" in v:
            return base64.b64decode(v["$base64"])
        return {k: decode(e) for k, e in v.items()}
    if isinstance(v, list):
        return [decode(e) for e in v]
    return v


def encode(v):
    """Turns bytes into {"$base64": s} and datetimes into ISO 8601 text."""
    if isinstance(v, (bytes, bytearray)):
        return {"$base64": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: encode(e) for k, e in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [encode(e) for e in v]
    return v


def main():
    client = boto3.client("secretsmanager", endpoint_url=sys.argv[1])
    say({"client": "boto3 %s botocore %s" % (boto3.__version__, botocore.__version__)})
    for line in sys.stdin:
        step = json.loads(line)
        method = getattr(client, botocore.xform_name(step["op"]), None)
        if method is None:
            say({"ok": False, "error": {"code": "RunnerUnknownOperation", "message": step["op"]}})
            continue
        try:
            out = method(**decode(step["input"]))
            say({"ok": True, "output": encode(out)})
        except ClientError as e:
            err = e.response.get("Error", {})
            say({"ok": False, "error": {"code": err.get("Code", ""), "message": err.get("Message", "")}})
        except ParamValidationError as e:
            say({"ok": False, "error": {"code": "ParamValidationError", "message": str(e)}})


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
