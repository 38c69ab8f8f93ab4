#!/usr/bin/env python3
"""A booking back office's side of the customer transfer (docs/backoffice.md), standard library only.

  backoffice-client.py --url http://127.0.0.1:8080 --token TOKEN transfer ITEMS.json
      sends the JSON array of transfer items in ITEMS.json in batches of --batch (default 1000)
      and prints one line per item: external address id, POS code, action or error (--json: the
      results as a JSON array)
  backoffice-client.py --url ... --token ... get EXTERNAL_ADDRESS_ID
      prints the mapping of one transferred address (its POS code)

Exit status: 0 when every batch was answered (items may still be refused: see their lines),
2 when the hub refused a request (the status and the hub's error are printed), 1 otherwise.
"""
import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def call(url, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.loads(reply.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, {"error": text}


def results_of(reply):
    """The reply is a JSON array of results, or an object whose 'results' is that array."""
    return reply if isinstance(reply, list) else reply.get("results", [])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--batch", type=int, default=1000, help="items per request (the hub takes at most 1000)")
    sub = parser.add_subparsers(dest="command", required=True)
    transfer = sub.add_parser("transfer")
    transfer.add_argument("file")
    get = sub.add_parser("get")
    get.add_argument("external_address_id")
    args = parser.parse_args()

    if args.command == "get":
        status, reply = call(args.url, args.token, "GET", "/v1/external/customers/" + urllib.parse.quote(args.external_address_id, safe=""))
        if status != 200:
            print("refused (%d): %s" % (status, reply.get("error")), file=sys.stderr)
            return 2
        print(json.dumps(reply, sort_keys=True) if args.json else "%s -> %s" % (reply["external_address_id"], reply["code"]))
        return 0

    with open(args.file, encoding="utf-8") as f:
        items = json.load(f)
    if not isinstance(items, list):
        print("%s: not a JSON array of transfer items" % args.file, file=sys.stderr)
        return 1
    everything = []
    for start in range(0, len(items), args.batch):
        status, reply = call(args.url, args.token, "POST", "/v1/external/customers", items[start:start + args.batch])
        if status != 200:
            print("refused (%d): %s" % (status, reply.get("error")), file=sys.stderr)
            return 2
        everything += results_of(reply)
    if args.json:
        print(json.dumps(everything, sort_keys=True))
    else:
        for r in everything:
            if r.get("error"):
                print("%s\trefused\t%s: %s" % (r.get("external_address_id"), r["error"]["field"], r["error"]["message"]))
            else:
                print("%s\t%s\t%s%s" % (r["external_address_id"], r["code"], r["action"],
                                        "\t" + ",".join(r["documents"]) if r.get("documents") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
