#!/usr/bin/env python3
"""A booking back office's side of the customer transfer (docs/backoffice.md), standard library only.

  backoffice-client.py --url http://127.0.0.1:8080 --token TOKEN transfer ITEMS.json
      sends the JSON array of transfer items in ITEMS.json in batches of --batch (default 1000)
      and prints one line per item: external address id, POS code, action or error (--json: the
      results as a JSON array)
  backoffice-client.py --url ... --token ... get EXTERNAL_ADDRESS_ID
      prints the mapping of one transferred address (its POS code)
  backoffice-client.py --url ... --token ... delivery-notes [--after CURSOR] [--limit N] [--ack]
      fetches the delivery notes the stores wrote that this system has not acknowledged (one
      line each: cursor, note, customer, amount; --json: the page as JSON) and, with --ack,
      acknowledges them once printed; a note fetched twice keeps its id and cursor

The options (--url, --token, --json, --batch) may stand before or after the sub-command.

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
    except urllib.error.URLError as e:
        print("cannot reach the hub at %s: %s" % (url, e.reason), file=sys.stderr)
        sys.exit(1)


def results_of(reply):
    """The reply is a JSON array of results, or an object whose 'results' is that array."""
    return reply if isinstance(reply, list) else reply.get("results", [])


def main():
    # The common options are accepted before and after the sub-command (both forms are in
    # the documentation): each parser knows them, and a value given after the sub-command wins.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS)
    common.add_argument("--token", default=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the results as JSON")
    common.add_argument("--batch", type=int, default=argparse.SUPPRESS, help="items per request (the hub takes at most 1000)")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    transfer = sub.add_parser("transfer", parents=[common])
    transfer.add_argument("file")
    get = sub.add_parser("get", parents=[common])
    get.add_argument("external_address_id")
    notes = sub.add_parser("delivery-notes", parents=[common])
    notes.add_argument("--after", type=int, help="the cursor to read after (default: what this system acknowledged)")
    notes.add_argument("--limit", type=int, default=100)
    notes.add_argument("--ack", action="store_true", help="acknowledge the notes fetched")
    args = parser.parse_args()
    for name, default in (("url", None), ("token", None), ("json", False), ("batch", 1000)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if not args.url or not args.token:
        parser.error("--url and --token are required")

    if args.command == "get":
        status, reply = call(args.url, args.token, "GET", "/v1/external/customers/" + urllib.parse.quote(args.external_address_id, safe=""))
        if status != 200:
            print("refused (%d): %s" % (status, reply.get("error")), file=sys.stderr)
            return 2
        print(json.dumps(reply, sort_keys=True) if args.json else "%s -> %s" % (reply["external_address_id"], reply["code"]))
        return 0

    if args.command == "delivery-notes":
        query = {"limit": args.limit}
        if args.after is not None:
            query["after"] = args.after
        status, page = call(args.url, args.token, "GET", "/v1/external/delivery-notes?" + urllib.parse.urlencode(query))
        if status != 200:
            print("refused (%d): %s" % (status, page.get("error")), file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(page, sort_keys=True))
        else:
            for n in page["notes"]:
                c = n["customer"]
                who = " ".join(x for x in (c.get("first_name"), c.get("last_name"), c.get("name")) if x)
                ext = (" (%s)" % c["external_address_id"]) if c.get("external_address_id") else ""
                print("%d\t%s\t%s %s%s\t%s %s" % (n["cursor"], n["id"], c["code"], who, ext, n["amount"], n["currency"]))
        if args.ack and page["notes"]:
            status, reply = call(args.url, args.token, "POST", "/v1/external/delivery-notes/ack", {"through": page["next_cursor"]})
            if status != 200:
                print("acknowledgement refused (%d): %s" % (status, reply.get("error")), file=sys.stderr)
                return 2
            if not args.json:
                print("acknowledged through %d" % reply["acknowledged_through"])
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
