"""The Python script a user writes first: os.walk, json.loads per line, aggregate in memory.

Correct, one core, no resume. Same definitions as bench/naive/tally.mjs and the README.
Usage: python3 bench/naive/python-local.py <dir>   (prints the summary as JSON)
"""
import json
import os
import re
import sys

CLASSES = ("success", "rateLimited", "clientError", "serverError", "noStatus")
WRAPPER = re.compile(rb'^\s*\{\s*"records"\s*:')


def status_class(raw):
    if isinstance(raw, bool):
        return "noStatus"
    if isinstance(raw, (int, float)):
        code = raw
    elif isinstance(raw, str) and raw != "":
        try:
            code = float(raw)
        except ValueError:
            return "noStatus"
    else:
        return "noStatus"
    if code != int(code) or code < 100 or code > 599:
        return "noStatus"
    code = int(code)
    if 200 <= code < 300:
        return "success"
    if code == 429:
        return "rateLimited"
    if 400 <= code < 500:
        return "clientError"
    if code >= 500:
        return "serverError"
    return "noStatus"


def duration(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        n = value
    elif isinstance(value, str) and value != "":
        try:
            n = float(value)
        except ValueError:
            return None
    else:
        return None
    return n if n >= 0 and n != float("inf") else None


def percentiles(values):
    s = sorted(values)
    pick = (lambda q: s[int(q * (len(s) - 1))]) if s else (lambda q: None)
    return {"count": len(s), "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)}


class Tally:
    def __init__(self):
        self.records = 0
        self.malformed = 0
        self.classes = dict.fromkeys(CLASSES, 0)
        self.latencies = []
        self.models = {}

    def record(self, rec):
        if not isinstance(rec, dict):
            self.malformed += 1
            return
        props = rec.get("properties")
        if isinstance(props, str):
            try:
                props = json.loads(props)
            except ValueError:
                props = None
        if not isinstance(props, dict):
            props = {}
        raw = props.get("responseCode") if rec.get("category") == "GatewayLogs" else rec.get("resultSignature")
        cls = status_class(raw)
        model = props.get("modelName") or None
        version = props.get("modelVersion") or None
        m = self.models.get((model, version))
        if m is None:
            m = self.models[(model, version)] = {"records": 0, "classes": dict.fromkeys(CLASSES, 0), "latencies": []}
        self.records += 1
        self.classes[cls] += 1
        m["records"] += 1
        m["classes"][cls] += 1
        if cls != "noStatus":
            ms = duration(rec.get("durationMs"))
            if ms is not None:
                self.latencies.append(ms)
                m["latencies"].append(ms)

    def line(self, raw):
        raw = raw.rstrip(b"\r\n")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            return
        try:
            value = json.loads(raw)
        except ValueError:  # also UnicodeDecodeError, for binary junk
            self.malformed += 1
            return
        if isinstance(value, dict) and isinstance(value.get("records"), list) and "time" not in value:
            for r in value["records"]:
                self.record(r)
        else:
            self.record(value)

    def summary(self, files):
        by_model = []
        for (model, version), m in self.models.items():
            p = percentiles(m["latencies"])
            del p["count"]
            by_model.append({"model": model, "version": version, "records": m["records"], **m["classes"], "latencyMs": p})
        return {
            "files": files,
            "records": self.records,
            "malformedLines": self.malformed,
            "statusClasses": self.classes,
            "latencyMs": percentiles(self.latencies),
            "byModel": by_model,
        }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python-local.py <dir>")
    tally = Tally()
    files = 0
    for root, _dirs, names in os.walk(sys.argv[1]):
        for name in names:
            if name != "PT1H.json":
                continue
            files += 1
            with open(os.path.join(root, name), "rb") as f:
                head = f.read(64)
                f.seek(0)
                if WRAPPER.match(head.removeprefix(b"\xef\xbb\xbf")):
                    # The pre-2018 form: one JSON document, maybe pretty-printed over many lines.
                    body = f.read().removeprefix(b"\xef\xbb\xbf")
                    try:
                        for r in json.loads(body)["records"]:
                            tally.record(r)
                        continue
                    except (ValueError, KeyError, TypeError):
                        f.seek(0)
                for raw in f:
                    tally.line(raw)
    json.dump(tally.summary(files), sys.stdout)
    sys.stdout.write("\n")


main()
