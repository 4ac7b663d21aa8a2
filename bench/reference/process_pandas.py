#!/usr/bin/env python3
"""The pandas reference of `recsys process silver` + `recsys process gold` (bench/process).

The same transforms as docs/formats/lake-tables.md describes, written the way a data team would
write them in pandas: read every bronze file, parse each line with the json module, validate with
the rules of src/core/event.cc (EventParser) as vectorised column checks, deduplicate, type,
sessionize, build the rebuilt silver tables, then the gold tables; write Parquet with zstd.

  /usr/bin/python3 bench/reference/process_pandas.py --lake LAKE [--out DIR]

reads LAKE/bronze/topics/**, writes DIR/silver/... and DIR/gold/... (DIR defaults to LAKE) and
prints one JSON object: read, written, quarantined, duplicates (as recsys's silver report),
quarantined_by_reason, per_topic, tables (rows per table) and seconds: "seconds" in all,
"seconds_transform" without the Parquet writes, "seconds_write" the writes. Timing starts after
the imports. Needs Debian's python3-pandas (numpy) and python3-zstandard (else `zstd -dc`).

Where validation cannot follow EventParser exactly, the cases are named at the check; none of
them occurs in `recsys generate` output.
"""

import time

T_START = time.monotonic()

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parquet_lite import write_parquet  # noqa: E402

try:
    import zstandard
except ImportError:
    zstandard = None

T_IMPORTED = time.monotonic()

# ---------------------------------------------------------------------------------------------
# The event model (src/core/event.h)

SCHEMA_VERSION = 1
TOPICS = {
    "clickstream": ["page_view", "product_view", "search", "add_to_cart", "remove_from_cart",
                    "purchase", "recommendation_impression", "recommendation_click"],
    "user-events": ["signup", "login", "profile_update"],
    "product-events": ["product_created", "product_updated", "price_changed", "stock_changed",
                       "product_discontinued"],
}
TOPIC_OF = {t: topic for topic, types in TOPICS.items() for t in types}
NEEDS_PRODUCT = {"product_view", "add_to_cart", "remove_from_cart", "purchase",
                 "recommendation_click"} | set(TOPICS["product-events"])
STRING_FIELDS = ["user_id", "session_id", "product_id", "currency", "order_id", "query", "page",
                 "referrer", "device", "rec_id"]
FIELDS = ["event_id", "event_type", "event_time", "schema_version"] + STRING_FIELDS + [
    "quantity", "price", "position", "rating", "attributes"]
ATTR_STRINGS = ["country", "city", "age_band", "gender", "signup_channel", "email", "title",
                "description", "category", "brand"]
# EventParser checks attributes in the object's key order; these checks go in the encoder's
# order, which is the same unless a hand-made record has two bad attributes out of that order.
ATTRS = ATTR_STRINGS[:10] + ["price", "currency", "stock", "tags"]
USER_ATTRS = ["country", "city", "age_band", "gender", "signup_channel"]
MAX_RATING = 10.0
MAX_PRICE = 1e15  # silver: DECIMAL(18,2) holds less than 1e16

# JSON value kinds (simdjson's element types, plus MISSING for an absent key).
MISSING, NULL, BOOL, INT, UINT, DOUBLE, STRING, ARRAY, OBJECT = range(9)
KIND_NAME = {NULL: "null", BOOL: "a boolean", INT: "a number", UINT: "a number",
             DOUBLE: "a number", STRING: "a string", ARRAY: "an array", OBJECT: "an object"}
_KIND_OF_TYPE = {type(None): NULL, bool: BOOL, int: INT, float: DOUBLE, str: STRING,
                 list: ARRAY, dict: OBJECT}
INT64_MIN, UINT_START, UINT64_END = -(1 << 63), 1 << 63, 1 << 64


class _NotJson(ValueError):
    pass


def _reject_constant(name):  # NaN, Infinity: valid for Python's json, not for simdjson
    raise _NotJson(name)


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def parse_line(raw):
    """The JSON value of a bronze line, or an exception instance if it is not JSON."""
    try:
        return _decode(raw.decode("utf-8"))  # strict UTF-8, as simdjson
    except (ValueError, RecursionError) as e:
        return e if isinstance(e, ValueError) else ValueError(str(e))


def kinds(col):
    """JSON kind of each value of an object column built from parsed dicts (NaN = absent)."""
    k = col.map(type).map(_KIND_OF_TYPE).fillna(MISSING).astype(np.int8)
    floats = k == DOUBLE
    if floats.any():
        k[floats & col.isna()] = MISSING
    ints = k == INT
    if ints.any():
        big = col[ints] >= UINT_START
        k[big[big].index] = UINT
    return k


def out_of_range(col, k):
    """Numbers simdjson does not parse (an integer beyond 64 bits, a float beyond double):
    malformed_json there."""
    bad = pd.Series(False, index=col.index)
    ints = k.isin([INT, UINT])
    if ints.any():
        v = col[ints]
        bad[ints] = (v >= UINT64_END) | (v < INT64_MIN)
    floats = k == DOUBLE
    if floats.any():
        bad[floats] = ~np.isfinite(col[floats].astype(np.float64))
    return bad


# ---------------------------------------------------------------------------------------------
# RFC 3339 (src/core/clock.cc ParseRfc3339): the canonical form is parsed vectorised, anything
# else by this port of the C++ function.

_CANONICAL_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"
_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                      r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))")


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def parse_rfc3339(s):
    m = _RFC3339.fullmatch(s)
    if not m:
        return None
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h <= 23 and mi <= 59
            and se <= 60):
        return None
    frac = m.group(7) or ""
    millis = int((frac[:3]).ljust(3, "0")) if frac else 0
    offset = 0
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = (1 if m.group(9) == "+" else -1) * (oh * 3600000 + om * 60000)
    se = min(se, 59)
    return (_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000 + millis - offset


def parse_times(s):
    """Epoch milliseconds (float, NaN where not RFC 3339) of a Series of strings."""
    ms = pd.Series(np.nan, index=s.index)
    canonical = s.str.fullmatch(_CANONICAL_TIME).fillna(False).astype(bool)
    if canonical.any():
        t = pd.to_datetime(s[canonical], errors="coerce", utc=True)
        ok = t.notna()
        ms[ok[ok].index] = t[ok].values.astype("datetime64[ms]").astype(np.int64)
    rest = ms.isna()
    if rest.any():
        ms[rest] = [np.nan if (v := parse_rfc3339(x)) is None else v for x in s[rest]]
    return ms


# ---------------------------------------------------------------------------------------------
# Bronze

def decompress(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    if path.endswith(".zst"):
        if zstandard is not None:
            with open(path, "rb") as f:
                reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
                return reader.read()
        return subprocess.run(["zstd", "-dcq", path], check=True, capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read()


def describe_not_object(p):
    if p is None:
        return ""  # oversized, not parsed
    if isinstance(p, Exception):
        return "not valid JSON: " + str(p)
    return "message is " + KIND_NAME[_KIND_OF_TYPE[type(p)]] + ", not a JSON object"


def read_bronze(lake, max_bytes, batch=250000):
    """One row per bronze line, in lake key order: raw bytes, lineage, and the parsed fields as
    object columns (NaN where a key is absent)."""
    root = os.path.join(lake, "bronze", "topics")
    keys = []
    for topic in TOPICS:
        for dirpath, _, files in os.walk(os.path.join(root, topic)):
            for name in files:
                if name.endswith((".json", ".json.gz", ".json.zst")):
                    keys.append((topic, os.path.relpath(os.path.join(dirpath, name), lake)))
    keys.sort(key=lambda k: k[1])
    lines, counts = [], []
    for topic, key in keys:
        ls = decompress(os.path.join(lake, key)).split(b"\n")
        if ls and ls[-1] == b"":
            ls.pop()
        lines += ls
        counts.append(len(ls))
    # Parsed in batches so that the dicts of only one batch are alive at a time.
    frames, not_object = [], []
    for start in range(0, len(lines), batch):
        parsed = [parse_line(b) if len(b) <= max_bytes else None
                  for b in lines[start:start + batch]]
        frames.append(pd.DataFrame([p if isinstance(p, dict) else {} for p in parsed],
                                   columns=FIELDS, dtype=object))
        not_object += [None if isinstance(p, dict) else describe_not_object(p) for p in parsed]
        del parsed
    bronze = (pd.concat(frames, ignore_index=True) if frames else
              pd.DataFrame(columns=FIELDS, dtype=object))
    counts = np.array(counts, dtype=np.int64)
    file_idx = np.repeat(np.arange(len(keys)), counts)
    bronze["raw"] = lines
    bronze["not_object"] = not_object
    bronze["topic"] = pd.Categorical.from_codes(
        pd.Series([t for t, _ in keys], dtype="category").cat.codes.to_numpy()[file_idx]
        if len(keys) else [], categories=sorted({t for t, _ in keys}))
    bronze["bronze_file"] = pd.Categorical.from_codes(file_idx, categories=[k for _, k in keys])
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    bronze["bronze_line"] = np.arange(len(lines), dtype=np.int64) - starts + 1
    return bronze, len(keys)


# ---------------------------------------------------------------------------------------------
# Validation: the checks of EventParser::Parse in its order; a record keeps its first failure.

class Verdicts:
    def __init__(self, index):
        self.reason = pd.Series(None, index=index, dtype=object)
        self.message = pd.Series(None, index=index, dtype=object)
        self.ok = np.ones(len(index), dtype=bool)  # no failure yet

    def pending(self):
        return pd.Series(self.ok, index=self.reason.index)

    def fail(self, mask, reason, message):
        """Records reason and message for the rows of mask that have not failed yet. message:
        a string, or a function of the row mask giving a Series."""
        m = np.asarray(mask, dtype=bool) & self.ok
        if m.any():
            mask = pd.Series(m, index=self.reason.index)
            self.reason[mask] = reason
            self.message[mask] = message if isinstance(message, str) else message(mask)
            self.ok &= ~m


def check_count(v, name, col, k, pending):
    present = pending & (k != MISSING)
    v.fail(present & (k == UINT), "wrong_type", name + " is too large")
    not_int = present & (k != INT) & (k != UINT)
    v.fail(not_int, "wrong_type",
           lambda m: name + " must be an integer, not " + k[m].map(KIND_NAME))
    ints = present & (k == INT)
    neg = ints & (col.where(ints, 0) < 0)
    v.fail(neg, "negative_value", lambda m: name + " is negative (" + col[m].astype(str) + ")")


def check_amount(v, name, col, k, pending):
    present = pending & (k != MISSING)
    number = k.isin([INT, UINT, DOUBLE])
    v.fail(present & ~number, "wrong_type",
           lambda m: name + " must be a number, not " + k[m].map(KIND_NAME))
    neg = present & number & (col.where(number, 0).astype(np.float64) < 0)
    v.fail(neg, "negative_value", lambda m: name + " is negative (" + col[m].astype(str) + ")")


def validate(b, now_ms, opts):
    v = Verdicts(b.index)
    v.fail(b.raw.map(len) > opts.max_message_bytes, "oversized",
           "message is over the limit of %d bytes" % opts.max_message_bytes)
    v.fail(b.not_object.notna(), "malformed_json", lambda m: b.not_object[m])
    k = {f: kinds(b[f]) for f in FIELDS}
    for f in FIELDS:
        if f != "attributes":
            v.fail(out_of_range(b[f], k[f]), "malformed_json",
                   "not valid JSON: " + f + " is out of range")

    # schema_version first: a newer schema may give fields another meaning.
    sv, ksv = b.schema_version, k["schema_version"]
    v.fail(ksv == UINT, "unsupported_schema", "schema_version is newer than 1")
    v.fail((ksv != MISSING) & (ksv != INT), "wrong_type",
           lambda m: "schema_version must be an integer, not " + ksv[m].map(KIND_NAME))
    svi = sv.where(ksv == INT, SCHEMA_VERSION)
    v.fail(svi < 1, "wrong_type",
           lambda m: "schema_version must be at least 1, not " + sv[m].astype(str))
    v.fail(svi > SCHEMA_VERSION, "unsupported_schema",
           lambda m: "schema_version " + sv[m].astype(str) + " is newer than 1")

    et, ket = b.event_type, k["event_type"]
    v.fail(ket == MISSING, "missing_field", "event_type is missing")
    v.fail(ket != STRING, "wrong_type",
           lambda m: "event_type must be a string, not " + ket[m].map(KIND_NAME))
    v.fail(et == "", "missing_field", "event_type is missing")
    type_topic = et.map(TOPIC_OF)
    v.fail(type_topic.isna(), "unknown_event_type",
           lambda m: "event_type \"" + et[m].str.slice(0, 64) + "\" is unknown")
    v.fail(type_topic != b.topic.astype(object), "wrong_topic",
           lambda m: "event_type " + et[m] + " belongs to topic " + type_topic[m] + ", not " +
           b.topic[m].astype(str))

    kid = k["event_id"]
    v.fail(kid == MISSING, "missing_field", "event_id is missing")
    v.fail(kid != STRING, "wrong_type",
           lambda m: "event_id must be a string, not " + kid[m].map(KIND_NAME))
    v.fail(b.event_id == "", "missing_field", "event_id is missing")

    kt = k["event_time"]
    v.fail(kt == MISSING, "missing_field", "event_time is missing")
    v.fail(kt != STRING, "bad_time",
           lambda m: "event_time must be an RFC 3339 string, not " + kt[m].map(KIND_NAME))
    pending = v.pending()
    ms = pd.Series(np.nan, index=b.index)
    ms[pending] = parse_times(b.event_time[pending])
    v.fail(ms.isna(), "bad_time",
           lambda m: "event_time \"" + b.event_time[m].str.slice(0, 64) + "\" is not RFC 3339")
    v.fail(ms > now_ms + opts.max_future_skew_ms, "future_time",
           lambda m: "event_time " + b.event_time[m] + " is more than " +
           str(opts.max_future_skew_ms) + " ms after now")

    for f in STRING_FIELDS:
        v.fail((k[f] != MISSING) & (k[f] != STRING), "wrong_type",
               lambda m, f=f: f + " must be a string, not " + k[f][m].map(KIND_NAME))
    check_count(v, "quantity", b.quantity, k["quantity"], v.pending())
    check_amount(v, "price", b.price, k["price"], v.pending())
    check_count(v, "position", b.position, k["position"], v.pending())
    check_amount(v, "rating", b.rating, k["rating"], v.pending())
    kr = k["rating"]
    numeric = kr.isin([INT, UINT, DOUBLE])
    v.fail(numeric & (b.rating.where(numeric, 0).astype(np.float64) > MAX_RATING), "wrong_type",
           lambda m: "rating must be at most 10, not " + b.rating[m].astype(str))

    ka = k["attributes"]
    v.fail((ka != MISSING) & (ka != OBJECT), "wrong_type",
           lambda m: "attributes must be an object, not " + ka[m].map(KIND_NAME))
    has_attrs = v.pending() & (ka == OBJECT)
    attrs = pd.DataFrame(list(b.attributes[has_attrs]), index=b.index[has_attrs],
                         columns=ATTRS, dtype=object).reindex(b.index)
    kattr = {a: kinds(attrs[a]) for a in ATTRS}
    for a in ATTRS:
        name = "attributes." + a
        if a in ("price", "stock"):
            v.fail(out_of_range(attrs[a], kattr[a]), "malformed_json",
                   "not valid JSON: " + name + " is out of range")
            check = check_amount if a == "price" else check_count
            check(v, name, attrs[a], kattr[a], v.pending())
        elif a == "tags":
            arrays = kattr[a] == ARRAY
            v.fail((kattr[a] != MISSING) & ~arrays, "wrong_type",
                   lambda m: name + " must be an array of strings, not " +
                   kattr["tags"][m].map(KIND_NAME))
            not_strings = attrs[a][arrays & v.pending()].map(
                lambda tags: not all(isinstance(t, str) for t in tags))
            v.fail(not_strings.reindex(b.index, fill_value=False), "wrong_type",
                   name + "[i] must be a string")
        else:
            v.fail((kattr[a] != MISSING) & (kattr[a] != STRING), "wrong_type",
                   lambda m, a=a, name=name: name + " must be a string, not " +
                   kattr[a][m].map(KIND_NAME))

    def empty(f):
        return b[f].isna() | (b[f] == "")

    v.fail((b.topic != "product-events") & empty("user_id"), "missing_field", "user_id is missing")
    v.fail((b.topic == "clickstream") & empty("session_id"), "missing_field",
           "session_id is missing")
    v.fail(et.isin(NEEDS_PRODUCT) & empty("product_id"), "missing_field",
           "product_id is missing")
    v.fail((et == "purchase") & empty("order_id"), "missing_field", "order_id is missing")
    v.fail((et == "price_changed") & (kattr["price"] == MISSING), "missing_field",
           "attributes.price is missing")
    v.fail((et == "stock_changed") & (kattr["stock"] == MISSING), "missing_field",
           "attributes.stock is missing")
    v.fail((et == "product_created") & (attrs.title.isna() | (attrs.title == "")),
           "missing_field", "attributes.title is missing")

    # Rules silver adds (src/process/silver.cc CheckSilverRules, then the currency codes).
    def blank(f, frame=b):
        s = frame[f].where(frame[f].map(type) == str)
        return (s != "") & s.notna() & (s.str.strip(WS) == "")

    v.fail(blank("event_id"), "missing_field", "event_id is blank")
    v.fail((b.topic != "product-events") & blank("user_id"), "missing_field", "user_id is blank")
    v.fail((b.topic == "clickstream") & blank("session_id"), "missing_field",
           "session_id is blank")
    v.fail(et.isin(NEEDS_PRODUCT) & blank("product_id"), "missing_field", "product_id is blank")
    v.fail((et == "purchase") & blank("order_id"), "missing_field", "order_id is blank")
    v.fail((et == "product_created") & blank("title", attrs), "missing_field",
           "attributes.title is blank")
    for name, col, kc in [("price", b.price, k["price"]),
                          ("attributes.price", attrs.price, kattr["price"])]:
        numeric = kc.isin([INT, UINT, DOUBLE])
        v.fail(numeric & (col.where(numeric, 0).astype(np.float64) >= MAX_PRICE), "wrong_type",
               lambda m, name=name, col=col: name + " " + col[m].astype(str) +
               " is too large (limit 1e15)")
    for name, col, topic in [("currency", b.currency, "clickstream"),
                             ("attributes.currency", attrs.currency, "product-events")]:
        code = col.where(col.map(type) == str).str.strip(WS).str.upper()
        bad = (b.topic == topic) & code.notna() & (code != "") & ~code.str.fullmatch(
            "[A-Z]{3}").fillna(False).astype(bool)
        v.fail(bad, "wrong_type", lambda m, name=name, col=col: name + " \"" +
               col[m].str.slice(0, 32) + "\" is not a three-letter currency code")
    return v, ms, attrs


# ---------------------------------------------------------------------------------------------
# Silver

WS = " \t\n\r\f\v"


def clean(s):
    """Strings trimmed, empty strings NULL."""
    s = s.where(s.map(type) == str).str.strip(WS)
    return s.mask(s == "")


def to_time(ms):
    return pd.to_datetime(ms.astype(np.int64), unit="ms")


def money(x):
    """As DuckDB's CAST(x AS DECIMAL(18,2)): to cents, halves away from zero."""
    x = pd.to_numeric(x, errors="coerce").astype(np.float64)
    return np.sign(x) * np.floor(np.abs(x) * 100 + 0.5) / 100


def lineage(df, b, run_id):
    df["schema_version"] = b.schema_version.where(b.schema_version.notna(),
                                                  SCHEMA_VERSION).astype(np.int32)
    df["bronze_file"] = b.bronze_file.astype(str)
    df["bronze_line"] = b.bronze_line
    df["run_id"] = run_id
    df["event_date"] = df.event_time.dt.floor("D")
    return df


def build_silver(b, ms, attrs, accepted, run_id, opts):
    t = {}
    c = b[accepted & (b.topic == "clickstream")]
    click = pd.DataFrame({"event_id": clean(c.event_id), "event_type": c.event_type,
                          "event_time": to_time(ms[c.index])})
    for f in ["user_id", "session_id", "product_id"]:
        click[f] = clean(c[f])
    click["quantity"] = pd.to_numeric(c.quantity).astype("Int64")
    click["price"] = money(c.price)
    click["currency"] = clean(c.currency).str.upper()
    for f in ["order_id", "query", "page", "referrer", "device", "rec_id"]:
        click[f] = clean(c[f])
    click["device"] = click.device.str.lower()
    click["position"] = pd.to_numeric(c.position).astype("Int64")
    click["rating"] = pd.to_numeric(c.rating).astype(np.float64)
    t["clickstream"] = lineage(click, c, run_id)

    u = b[accepted & (b.topic == "user-events")]
    ua = attrs.loc[u.index]
    users = pd.DataFrame({"event_id": clean(u.event_id), "event_type": u.event_type,
                          "event_time": to_time(ms[u.index]), "user_id": clean(u.user_id)})
    for f in USER_ATTRS:
        users[f] = clean(ua[f])
    email = clean(ua.email).str.lower()
    users["email_hash"] = email.dropna().map(
        lambda e: hashlib.sha256((opts.pii_salt + e).encode()).hexdigest())
    t["user_events"] = lineage(users, u, run_id)

    p = b[accepted & (b.topic == "product-events")]
    pa = attrs.loc[p.index]
    products = pd.DataFrame({"event_id": clean(p.event_id), "event_type": p.event_type,
                             "event_time": to_time(ms[p.index]), "product_id": clean(p.product_id)})
    for f in ["title", "description", "category", "brand"]:
        products[f] = clean(pa[f])
    products["price"] = money(pa.price)
    products["currency"] = clean(pa.currency).str.upper()
    products["stock"] = pd.to_numeric(pa.stock).astype("Int64")
    products["tags"] = pa.tags.where(pa.tags.map(type) == list, None).map(
        lambda tags: [t.strip(WS) for t in tags if t.strip(WS)], na_action="ignore")
    t["product_events"] = lineage(products, p, run_id)

    ids = b[accepted]
    t["event_ids"] = pd.DataFrame({"event_id": ids.event_id, "topic": ids.topic.astype(str),
                                   "run_id": run_id,
                                   "event_date": to_time(ms[ids.index]).dt.floor("D")})
    t["sessions"] = sessionize(t["clickstream"], opts.session_gap_minutes)
    t["users"], t["users_history"] = build_users(t["user_events"])
    t["products"], t["product_prices"] = build_products(t["product_events"])
    return t


def sessionize(click, gap_minutes):
    c = click[click.user_id.notna()].sort_values(["user_id", "event_time", "event_id"])
    gap = c.event_time.diff() > pd.Timedelta(minutes=gap_minutes)
    new = (c.user_id != c.user_id.shift()) | gap
    sid = new.cumsum().rename("sid")
    et = c.event_type
    revenue = (c.price * c.quantity.fillna(1).astype(np.float64)).where(et == "purchase")
    parts = pd.DataFrame({"sid": sid, "events": 1,
                          "page_views": et == "page_view", "product_views": et == "product_view",
                          "searches": et == "search", "add_to_carts": et == "add_to_cart",
                          "remove_from_carts": et == "remove_from_cart",
                          "purchases": et == "purchase", "revenue": revenue,
                          "viewed": c.product_id.where(et == "product_view")})
    g = parts.groupby("sid")
    s = g[["events", "page_views", "product_views", "searches", "add_to_carts",
           "remove_from_carts", "purchases"]].sum().astype(np.int64)
    s["revenue"] = money(g.revenue.sum())
    s["products_viewed"] = g.viewed.nunique().astype(np.int64)
    times = c.event_time.groupby(sid)
    first = c[new.values].set_index(sid[new.values])
    s["session_start"], s["session_end"] = times.min(), times.max()
    s["user_id"], s["device"], s["referrer"] = first.user_id, first.device, first.referrer
    s["duration_s"] = (s.session_end - s.session_start).dt.total_seconds()
    s["converted"] = s.purchases > 0
    s["session_key"] = s.user_id + ":" + (s.session_start.astype(np.int64) // 1_000_000).astype(str)
    s["event_date"] = s.session_start.dt.floor("D")
    return s.reset_index(drop=True)


def type2_history(df, key, attrs, time_col):
    """Type-2 rows: the latest non-null attributes after each event, a row when they change."""
    state = df[[key, time_col]].copy()
    state[attrs] = df.groupby(key)[attrs].ffill()
    state = state[state[attrs].notna().any(axis=1)]
    prev = state.groupby(key)[attrs].shift()
    same = ((state[attrs] == prev) | (state[attrs].isna() & prev.isna())).all(axis=1)
    first = state[key] != state[key].shift()
    h = state[first | ~same].rename(columns={time_col: "valid_from"})
    h["valid_to"] = h.groupby(key).valid_from.shift(-1)
    return h


def build_users(ue):
    e = ue.sort_values(["user_id", "event_time", "event_id"])
    g = e.groupby("user_id")
    users = g[USER_ATTRS + ["email_hash"]].last()
    users["signup_time"] = e[e.event_type == "signup"].groupby("user_id").event_time.min()
    logins = e[e.event_type == "login"].groupby("user_id").event_time
    users["last_login"] = logins.max()
    users["logins"] = logins.size().reindex(users.index, fill_value=0).astype(np.int64)
    users["profile_updates"] = ((e.event_type == "profile_update").groupby(e.user_id).sum()
                                .astype(np.int64))
    users["updated_at"] = g.event_time.max()
    users = users.reset_index()[["user_id", "signup_time", "country", "city", "age_band", "gender",
                                 "signup_channel", "email_hash", "last_login", "logins",
                                 "profile_updates", "updated_at"]]
    h = type2_history(e, "user_id", USER_ATTRS + ["email_hash"], "event_time")
    h["is_current"] = h.valid_to.isna()
    return users, h.reset_index(drop=True)


def build_products(pe):
    e = pe.sort_values(["product_id", "event_time", "event_id"])
    g = e.groupby("product_id")
    p = g[["title", "description", "category", "brand", "price", "currency", "stock"]].last()
    tagged = e[e.tags.notna()]
    p["tags"] = tagged.groupby("product_id").tags.last()
    p["created_at"] = e[e.event_type == "product_created"].groupby("product_id").event_time.min()
    p["updated_at"] = g.event_time.max()
    p["discontinued"] = (e.event_type == "product_discontinued").groupby(e.product_id).any()
    p = p.reset_index()
    priced = e[e.price.notna()][["product_id", "event_time", "price", "currency"]]
    priced["currency"] = priced.groupby("product_id").currency.ffill()
    changed = ((priced.product_id != priced.product_id.shift()) |
               (priced.price != priced.price.shift()) |
               (priced.currency.fillna("") != priced.currency.shift().fillna("")))
    prices = priced[changed].rename(columns={"event_time": "valid_from"})
    prices["valid_to"] = prices.groupby("product_id").valid_from.shift(-1)
    return p, prices.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Gold

def ntile(values, n=5, ascending=True):
    """SQL ntile(n) OVER (ORDER BY values), 1..n (the first buckets one larger), with the gold
    models' tie rule: equal values take the lowest tile of their group."""
    order = values.sort_values(ascending=ascending, kind="mergesort")
    rows = len(order)
    if rows == 0:
        return pd.Series([], index=values.index, dtype=np.int32)
    q, r = divmod(rows, n)
    i = np.arange(rows)
    big = r * (q + 1)
    tiles = pd.Series(np.where(i < big, i // (q + 1), r + (i - big) // max(q, 1)) + 1,
                      index=order.index)
    return tiles.groupby(order.values).transform("min").reindex(values.index).astype(np.int32)


def segment(f):
    """The RFM map of gold/user_features.sql over r_score and fm = (f_score + m_score) / 2."""
    r, fm = f.r_score, (f.f_score + f.m_score) / 2
    return pd.Series(np.select(
        [f.frequency == 0, (r >= 4) & (fm >= 4), (r >= 3) & (fm >= 3), (r >= 4) & (fm >= 2),
         r == 5, r == 4, r == 3, fm >= 3, r == 2],
        ["Browsers", "Champions", "Loyal", "Potential Loyalist", "New", "Promising",
         "Need Attention", "At Risk", "Hibernating"], "Lost"), index=f.index)


def event_weights(et, opts, rating=None):
    w = et.map({"product_view": opts.weight_view, "recommendation_click": opts.weight_click,
                "add_to_cart": opts.weight_cart, "purchase": opts.weight_purchase})
    if rating is not None:  # an explicit rating replaces the implicit weight of a view
        w = w.mask((et == "product_view") & rating.notna(), rating)
    return w


def days_between(earlier, later):
    """(later - earlier) in days, from whole milliseconds as the SQL models compute it."""
    return (later - earlier).astype(np.int64) // 1_000_000 / 86400000.0


def decay(times, as_of, half_life_days):
    return np.power(0.5, days_between(times, as_of) / half_life_days)


def top_category(category):
    top = category.str.split(">").str[0].str.strip()
    return top.mask(top == "")


def build_gold(s, opts):
    click, users, products = s["clickstream"], s["users"], s["products"]
    as_of = max(s[t].event_time.max() for t in ("clickstream", "user_events", "product_events")
                if len(s[t]))
    g = {}
    products = products.assign(top_category=top_category(products.category))

    # product_analytics_daily / product_analytics
    c = click[click.product_id.notna() & click.event_type.isin(
        ["product_view", "recommendation_click", "add_to_cart", "purchase"])]
    purchase = c.event_type == "purchase"
    units = c.quantity.fillna(1).astype(np.float64)
    daily_parts = pd.DataFrame({
        "product_id": c.product_id, "date": c.event_time.dt.floor("D"),
        "views": c.event_type == "product_view", "carts": c.event_type == "add_to_cart",
        "purchases": purchase, "units": units.where(purchase, 0),
        "revenue": (c.price * units).where(purchase, 0),
        "trending_score": event_weights(c.event_type, opts) *
        decay(c.event_time, as_of, opts.trending_half_life_days)})
    daily = daily_parts.groupby(["product_id", "date"], as_index=False).sum()
    for col in ["views", "carts", "purchases", "units"]:
        daily[col] = daily[col].astype(np.int64)
    daily["revenue"] = money(daily.revenue)

    def rates(df):
        df["view_to_cart"] = df.carts / df.views.where(df.views > 0)
        df["cart_to_purchase"] = df.purchases / df.carts.where(df.carts > 0)
        df["view_to_purchase"] = df.purchases / df.views.where(df.views > 0)
        return df

    g["product_analytics_daily"] = rates(daily)
    totals = daily.groupby("product_id")[["views", "carts", "purchases", "units", "revenue",
                                          "trending_score"]].sum()
    pa = totals.join(products.set_index("product_id")[["category", "brand", "price"]],
                     how="outer").fillna({k: 0 for k in totals.columns})
    for col in ["views", "carts", "purchases", "units"]:
        pa[col] = pa[col].astype(np.int64)
    g["product_analytics"] = rates(pa.rename_axis("product_id").reset_index())

    # interactions
    ic = c[c.user_id.notna()]
    w = event_weights(ic.event_type, opts, ic.rating) * decay(
        ic.event_time, as_of, opts.interaction_half_life_days)
    inter = (ic.assign(weight=w).groupby(["user_id", "product_id"], as_index=False)
             .agg(weight=("weight", "sum"), events=("weight", "size"),
                  last_time=("event_time", "max")))
    g["interactions"] = inter

    g["user_features"] = user_features(click, s["sessions"], users, products, inter, as_of)
    g["user_clusters"] = user_clusters(g["user_features"], opts)
    g["item_content"] = item_content(products)

    # hybrid_features
    h = products[["product_id", "category", "top_category", "brand", "price", "stock",
                  "discontinued", "created_at"]].copy()
    priced = h[h.price.notna()]
    bands = priced.groupby(priced.top_category.fillna("\0"), group_keys=False).price.apply(ntile)
    h["price_band"] = bands.reindex(h.index).astype("Int32")
    h["in_stock"] = (h.stock > 0).astype("boolean").mask(h.stock.isna())
    h["discontinued"] = h.discontinued.fillna(False)
    pairs = inter.groupby("product_id").size()
    h["popularity"] = h.product_id.map(pairs / pairs.sum()).fillna(0)
    h["trending_score"] = h.product_id.map(
        g["product_analytics"].set_index("product_id").trending_score).fillna(0)
    g["hybrid_features"] = h
    return g


def user_features(click, sessions, users, products, inter, as_of):
    c = click[click.user_id.notna()]
    et = c.event_type
    parts = pd.DataFrame({
        "user_id": c.user_id, "event_time": c.event_time,
        "purchase_time": c.event_time.where(et == "purchase"),
        "order": c.order_id.fillna(c.event_id).where(et == "purchase"),
        "revenue": (c.price * c.quantity.fillna(1).astype(np.float64)).where(et == "purchase"),
        "product_views": et == "product_view", "add_to_carts": et == "add_to_cart",
        "purchases": et == "purchase", "with_device": c.device.notna(),
        "mobile": c.device == "mobile", "desktop": c.device == "desktop",
        "tablet": c.device == "tablet"})
    g = parts.groupby("user_id")
    f = g.agg(first_seen=("event_time", "min"), last_seen=("event_time", "max"),
              last_purchase=("purchase_time", "max"), frequency=("order", "nunique"),
              monetary=("revenue", "sum"))
    counts = g[["product_views", "add_to_carts", "purchases", "with_device", "mobile",
                "desktop", "tablet"]].sum().astype(np.int64)
    f = f.join(counts)
    f["monetary"] = money(f.monetary)
    f["recency_days"] = days_between(f.last_purchase.fillna(f.last_seen), as_of)
    buyer = f.frequency > 0
    f["r_score"] = pd.concat([ntile(f.recency_days[buyer], ascending=False),
                              ntile(f.recency_days[~buyer], ascending=False)])
    f["f_score"] = ntile(f.frequency[buyer]).reindex(f.index).fillna(1).astype(np.int32)
    f["m_score"] = ntile(f.monetary[buyer]).reindex(f.index).fillna(1).astype(np.int32)
    f["rfm_score"] = f.r_score.astype(str) + f.f_score.astype(str) + f.m_score.astype(str)
    f["segment"] = segment(f)
    f["sessions"] = sessions.groupby("user_id").size().reindex(f.index, fill_value=0)
    f["avg_order_value"] = money((f.monetary / f.frequency.where(buyer)).fillna(0))
    # Up to three top-level categories by the user's interaction weights, heaviest first.
    cats = inter.assign(top_category=inter.product_id.map(
        products.set_index("product_id").top_category)).dropna(subset=["top_category"])
    cats = cats.groupby(["user_id", "top_category"], as_index=False).weight.sum()
    cats = cats.sort_values(["user_id", "weight", "top_category"],
                            ascending=[True, False, True]).groupby("user_id").head(3)
    f["top_categories"] = cats.groupby("user_id").top_category.agg(list)
    f["top_categories"] = f.top_categories.map(lambda v: v if isinstance(v, list) else [])
    known = f.with_device.where(f.with_device > 0)
    for d in ["mobile", "desktop", "tablet"]:
        f[d + "_share"] = (f[d] / known).fillna(0)
    f = f.join(users.set_index("user_id")[["country", "age_band"]])
    return f.reset_index()


def kmeans(x, k, seed, iterations=100, restarts=4):
    """Lloyd's algorithm from k-means++ starts; the start with the lowest inertia wins."""
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        labels, dist = kmeans_once(x, k, rng, iterations)
        if best is None or (dist ** 2).sum() < (best[1] ** 2).sum():
            best = labels, dist
    return best


def kmeans_once(x, k, rng, iterations):
    centers = [x[rng.integers(len(x))]]
    d2 = ((x - centers[0]) ** 2).sum(1)
    for _ in range(1, k):  # k-means++
        centers.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[0])
        d2 = np.minimum(d2, ((x - centers[-1]) ** 2).sum(1))
    centers = np.array(centers)
    labels = None
    for _ in range(iterations):
        dist = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(2)
        new = dist.argmin(1)
        if labels is not None and (new == labels).all():
            break
        labels = new
        for j in range(k):
            if (labels == j).any():
                centers[j] = x[labels == j].mean(0)
    dist = np.sqrt(((x - centers[labels]) ** 2).sum(1))
    return labels, dist


def silhouette(x, labels):
    sq = (x ** 2).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0))
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    mean_to = np.stack([d[:, labels == j].mean(1) for j in ks], 1)
    own = np.searchsorted(ks, labels)
    sizes = np.array([(labels == j).sum() for j in ks])
    a = mean_to[np.arange(len(x)), own] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    mean_to[np.arange(len(x)), own] = np.inf
    b = mean_to.min(1)
    s = (b - a) / np.maximum(a, b)
    return float(np.nan_to_num(s).mean())


def user_clusters(features, opts):
    # As gold.cc: counts and money enter as log1p, then every feature is z-scored.
    logged = ["frequency", "monetary", "sessions", "product_views", "add_to_carts", "purchases"]
    x = features[["recency_days"] + logged + ["mobile_share"]].astype(np.float64).fillna(0)
    x[logged] = np.log1p(x[logged].clip(lower=0))
    x = x.to_numpy()
    if len(x) == 0:
        return pd.DataFrame({"user_id": [], "cluster": [], "distance": []})
    sd = x.std(0)
    x = np.where(sd > 0, (x - x.mean(0)) / np.where(sd > 0, sd, 1), 0)
    k = opts.clusters
    if k == 0:
        rng = np.random.default_rng(opts.seed)
        sample = x[rng.choice(len(x), min(len(x), 2000), replace=False)]
        scores = {kk: silhouette(sample, kmeans(sample, kk, opts.seed)[0])
                  for kk in range(2, min(opts.max_clusters, len(sample) - 1) + 1)}
        k = max(scores, key=scores.get) if scores else 1
    labels, dist = kmeans(x, k, opts.seed)
    return pd.DataFrame({"user_id": features.user_id, "cluster": labels.astype(np.int32),
                         "distance": dist})


STOP_WORDS = set("""about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours ourselves
out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves""".split())


def item_content(products):
    docs = (products.title.fillna("") + " " + products.description.fillna("") + " " +
            products.category.fillna("") + " " + products.brand.fillna("")).str.lower()
    terms = docs.str.findall(r"[^\W_]+").explode().dropna()
    terms = terms[terms.str.len() >= 2]
    terms = terms[~terms.isin(STOP_WORDS)]
    tf = pd.DataFrame({"product_id": products.product_id.loc[terms.index].values,
                       "term": terms.values})
    counts = tf.groupby(["product_id", "term"]).size().rename("n").reset_index()
    counts["tf"] = counts.n / counts.groupby("product_id").n.transform("sum")
    n_docs = len(products)
    df_ = counts.groupby("term").size()
    counts["weight"] = counts.tf * np.log(n_docs / counts.term.map(df_))
    norm = np.sqrt((counts.weight ** 2).groupby(counts.product_id).transform("sum"))
    counts["weight"] = counts.weight / norm.where(norm > 0)
    return counts[counts.weight > 0][["product_id", "term", "weight"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Output

SILVER_SCHEMAS = {
    "clickstream": [("event_id", "string"), ("event_type", "string"), ("event_time", "timestamp"),
                    ("user_id", "string"), ("session_id", "string"), ("product_id", "string"),
                    ("quantity", "int64"), ("price", "decimal"), ("currency", "string"),
                    ("order_id", "string"), ("query", "string"), ("page", "string"),
                    ("referrer", "string"), ("device", "string"), ("rec_id", "string"),
                    ("position", "int64"), ("rating", "double")],
    "user_events": [("event_id", "string"), ("event_type", "string"),
                    ("event_time", "timestamp"), ("user_id", "string"), ("country", "string"),
                    ("city", "string"), ("age_band", "string"), ("gender", "string"),
                    ("signup_channel", "string"), ("email_hash", "string")],
    "product_events": [("event_id", "string"), ("event_type", "string"),
                       ("event_time", "timestamp"), ("product_id", "string"),
                       ("title", "string"), ("description", "string"), ("category", "string"),
                       ("brand", "string"), ("price", "decimal"), ("currency", "string"),
                       ("stock", "int64"), ("tags", "string_list")],
    "event_ids": [("event_id", "string"), ("topic", "string"), ("run_id", "string")],
    "sessions": [("session_key", "string"), ("user_id", "string"),
                 ("session_start", "timestamp"), ("session_end", "timestamp"),
                 ("duration_s", "double"), ("events", "int64"), ("page_views", "int64"),
                 ("product_views", "int64"), ("searches", "int64"), ("add_to_carts", "int64"),
                 ("remove_from_carts", "int64"), ("purchases", "int64"), ("revenue", "decimal"),
                 ("converted", "bool"), ("device", "string"), ("referrer", "string"),
                 ("products_viewed", "int64")],
    "users": [("user_id", "string"), ("signup_time", "timestamp"), ("country", "string"),
              ("city", "string"), ("age_band", "string"), ("gender", "string"),
              ("signup_channel", "string"), ("email_hash", "string"),
              ("last_login", "timestamp"), ("logins", "int64"), ("profile_updates", "int64"),
              ("updated_at", "timestamp")],
    "users_history": [("user_id", "string"), ("country", "string"), ("city", "string"),
                      ("age_band", "string"), ("gender", "string"),
                      ("signup_channel", "string"), ("email_hash", "string"),
                      ("valid_from", "timestamp"), ("valid_to", "timestamp"),
                      ("is_current", "bool")],
    "products": [("product_id", "string"), ("title", "string"), ("description", "string"),
                 ("category", "string"), ("brand", "string"), ("price", "decimal"),
                 ("currency", "string"), ("stock", "int64"), ("tags", "string_list"),
                 ("created_at", "timestamp"), ("updated_at", "timestamp"),
                 ("discontinued", "bool")],
    "product_prices": [("product_id", "string"), ("price", "decimal"), ("currency", "string"),
                       ("valid_from", "timestamp"), ("valid_to", "timestamp")],
}
LINEAGE = [("schema_version", "int32"), ("bronze_file", "string"), ("bronze_line", "int64"),
           ("run_id", "string")]
INCREMENTAL = ["clickstream", "user_events", "product_events", "event_ids"]
QUARANTINE = [("raw", "string"), ("topic", "string"), ("bronze_file", "string"),
              ("bronze_line", "int64"), ("reason", "string"), ("message", "string"),
              ("run_id", "string"), ("quarantined_at", "timestamp")]
GOLD_SCHEMAS = {
    "user_features": [("user_id", "string"), ("first_seen", "timestamp"),
                      ("last_seen", "timestamp"), ("recency_days", "double"),
                      ("frequency", "int64"), ("monetary", "decimal"), ("r_score", "int32"),
                      ("f_score", "int32"), ("m_score", "int32"), ("rfm_score", "string"),
                      ("segment", "string"), ("sessions", "int64"), ("product_views", "int64"),
                      ("add_to_carts", "int64"), ("purchases", "int64"),
                      ("avg_order_value", "decimal"), ("top_categories", "string_list"),
                      ("mobile_share", "double"), ("desktop_share", "double"),
                      ("tablet_share", "double"), ("country", "string"), ("age_band", "string")],
    "user_clusters": [("user_id", "string"), ("cluster", "int32"), ("distance", "double")],
    "product_analytics_daily": [("product_id", "string"), ("date", "date"), ("views", "int64"),
                                ("carts", "int64"), ("purchases", "int64"), ("units", "int64"),
                                ("revenue", "decimal"), ("view_to_cart", "double"),
                                ("cart_to_purchase", "double"), ("view_to_purchase", "double"),
                                ("trending_score", "double")],
    "product_analytics": [("product_id", "string"), ("views", "int64"), ("carts", "int64"),
                          ("purchases", "int64"), ("units", "int64"), ("revenue", "decimal"),
                          ("view_to_cart", "double"), ("cart_to_purchase", "double"),
                          ("view_to_purchase", "double"), ("trending_score", "double"),
                          ("category", "string"), ("brand", "string"), ("price", "decimal")],
    "interactions": [("user_id", "string"), ("product_id", "string"), ("weight", "double"),
                     ("events", "int64"), ("last_time", "timestamp")],
    "item_content": [("product_id", "string"), ("term", "string"), ("weight", "double")],
    "hybrid_features": [("product_id", "string"), ("category", "string"),
                        ("top_category", "string"), ("brand", "string"), ("price", "decimal"),
                        ("price_band", "int32"), ("in_stock", "bool"), ("discontinued", "bool"),
                        ("popularity", "double"), ("trending_score", "double"),
                        ("created_at", "timestamp")],
}


class Writer:
    def __init__(self, root):
        self.root = root
        self.seconds = 0.0
        self.files = []  # (key, size)

    def write(self, key, df, schema):
        start = time.monotonic()
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_parquet(df, schema, path)
        self.files.append((key, os.path.getsize(path)))
        self.seconds += time.monotonic() - start

    def write_text(self, key, text):
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def write_silver(w, tables, quarantine, run_id):
    for name in INCREMENTAL + ["sessions"]:
        schema = SILVER_SCHEMAS[name] + ([] if name in ("event_ids", "sessions") else LINEAGE)
        df = tables[name]
        for day, part in df.groupby("event_date"):
            w.write(f"silver/{name}/event_date={day:%Y-%m-%d}/part-{run_id}.parquet", part,
                    schema)
    for name in ["users", "users_history", "products", "product_prices"]:
        w.write(f"silver/{name}/part-{run_id}.parquet", tables[name], SILVER_SCHEMAS[name])
    if len(quarantine):
        w.write(f"silver/_quarantine/run={run_id}/part-0.parquet", quarantine, QUARANTINE)


def write_gold(w, gold, silver_files):
    digest = hashlib.sha256("".join(f"{k}\t{n}\n" for k, n in sorted(silver_files)).encode())
    snapshot = digest.hexdigest()[:16]
    for name, df in gold.items():
        w.write(f"gold/{name}/snapshot={snapshot}/part-0.parquet", df, GOLD_SCHEMAS[name])
    w.write_text("gold/_current.json", json.dumps({
        "snapshot": snapshot, "tables": list(gold),
        "built_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}))
    return snapshot


# ---------------------------------------------------------------------------------------------

def counts_of(reason, duplicate, mask):
    read = int(mask.sum())
    quarantined = int((reason.notna() & mask).sum())
    dups = int((duplicate & mask).sum())
    return {"read": read, "written": read - quarantined - dups, "quarantined": quarantined,
            "duplicates": dups}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", required=True, help="lake root holding bronze/topics")
    ap.add_argument("--out", help="where silver/ and gold/ go (default: the lake)")
    ap.add_argument("--pii-salt", default="recsys")
    ap.add_argument("--session-gap-minutes", type=int, default=30)
    ap.add_argument("--max-future-skew-ms", type=int, default=3600000)
    ap.add_argument("--max-message-bytes", type=int, default=65536)
    ap.add_argument("--weight-view", type=float, default=1)
    ap.add_argument("--weight-click", type=float, default=2)
    ap.add_argument("--weight-cart", type=float, default=3)
    ap.add_argument("--weight-purchase", type=float, default=5)
    ap.add_argument("--interaction-half-life-days", type=float, default=30)
    ap.add_argument("--trending-half-life-days", type=float, default=7)
    ap.add_argument("--clusters", type=int, default=0)
    ap.add_argument("--max-clusters", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    opts = ap.parse_args()
    out = opts.out or opts.lake

    start = time.monotonic()
    now = dt.datetime.now(dt.timezone.utc)
    now_ms = int(now.timestamp() * 1000)
    run_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)

    bronze, files = read_bronze(opts.lake, opts.max_message_bytes)
    verdicts, ms, attrs = validate(bronze, now_ms, opts)
    valid = verdicts.reason.isna()
    duplicate = valid & bronze.event_id.where(valid).duplicated(keep="first") & valid
    accepted = valid & ~duplicate
    silver = build_silver(bronze, ms, attrs, accepted, run_id, opts)
    q = bronze[verdicts.reason.notna()]
    quarantine = pd.DataFrame({
        "raw": q.raw.map(lambda r: r.decode("utf-8", "replace")), "topic": q.topic.astype(str),
        "bronze_file": q.bronze_file.astype(str), "bronze_line": q.bronze_line,
        "reason": verdicts.reason[q.index], "message": verdicts.message[q.index],
        "run_id": run_id, "quarantined_at": pd.Timestamp(now.replace(tzinfo=None))})
    w = Writer(out)
    write_silver(w, silver, quarantine, run_id)
    silver_seconds = time.monotonic() - start

    gold_start = time.monotonic()
    write_before = w.seconds
    gold = build_gold(silver, opts)
    snapshot = write_gold(w, gold, w.files)
    gold_seconds = time.monotonic() - gold_start
    seconds = time.monotonic() - start

    everything = pd.Series(True, index=bronze.index)
    report = counts_of(verdicts.reason, duplicate, everything)
    report.update({
        "run_id": run_id,
        "files": files,
        "quarantined_by_reason": {k: int(v) for k, v in
                                  verdicts.reason.value_counts().sort_index().items()},
        "per_topic": {t: counts_of(verdicts.reason, duplicate, bronze.topic == t)
                      for t in TOPICS},
        "tables": {**{n: len(d) for n, d in silver.items()}, "quarantine": len(quarantine),
                   **{n: len(d) for n, d in gold.items()}},
        "gold_snapshot": snapshot,
        "parquet_writer": "parquet_lite (no pyarrow in Debian 12)",
        "seconds": round(seconds, 3),
        "seconds_transform": round(seconds - w.seconds, 3),
        "seconds_write": round(w.seconds, 3),
        "seconds_silver": round(silver_seconds, 3),
        "seconds_gold": round(gold_seconds, 3),
        "seconds_gold_write": round(w.seconds - write_before, 3),
        "seconds_imports": round(T_IMPORTED - T_START, 3),
    })
    assert report["read"] == report["written"] + report["quarantined"] + report["duplicates"]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
