"""A small Parquet writer for the pandas reference (bench/reference/process_pandas.py).

Debian 12 packages neither pyarrow nor fastparquet, the two engines behind DataFrame.to_parquet,
and this project installs only from Debian and npm. process_pandas.py uses pyarrow when it is
importable and falls back to this writer otherwise; the benchmark then compares against the
pandas transforms without the write (see bench/process), which only flatters the reference.

What it writes: Parquet format 1, one row group per up to ROW_GROUP_ROWS rows, one DATA_PAGE (v1)
per column chunk, PLAIN values, RLE/bit-packed hybrid levels, zstd (or no) compression, no
statistics, no dictionary pages. Enough for DuckDB, pyarrow, Spark and hyparquet to read.

Column types (the `schema` argument of write_parquet: a list of (name, type) pairs):
  "string"       BYTE_ARRAY, STRING
  "int64"        INT64                     "int32"  INT32
  "double"       DOUBLE                    "bool"   BOOLEAN
  "timestamp"    INT64, TIMESTAMP(MILLIS, not adjusted to UTC); pandas datetime64 in
  "date"         INT32, DATE; pandas datetime64 (midnight) in
  "decimal"      INT64, DECIMAL(18, 2); floats in, rounded to cents
  "string_list"  LIST<STRING> (3-level); Python lists (or None) in
Every column is OPTIONAL (nullable).
"""

import os
import struct

import numpy as np
import pandas as pd

try:
    import zstandard
except ImportError:  # then files are written uncompressed
    zstandard = None

ROW_GROUP_ROWS = 1 << 20

# Thrift compact protocol type ids.
_T_TRUE, _T_FALSE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 2, 5, 6, 8, 9, 12
# Parquet enums.
_BOOLEAN, _INT32, _INT64, _DOUBLE, _BYTE_ARRAY = 0, 1, 2, 5, 6
_OPTIONAL, _REPEATED = 1, 2
_UTF8, _LIST, _DECIMAL, _DATE = 0, 3, 5, 6
_PLAIN, _RLE = 0, 3
_UNCOMPRESSED, _ZSTD = 0, 6


def _uleb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(v):
    return (v << 1) ^ (v >> 63)


# A Thrift struct is a list of (field id, kind, value); kind is "i32", "i64", "bin", "bool",
# "struct" (value: a struct) or ("list", element kind) (value: a list). None values are skipped.
def _encode_struct(fields, out):
    last = 0
    for fid, kind, value in fields:
        if value is None:
            continue
        if kind == "bool":
            ctype = _T_TRUE if value else _T_FALSE
        elif isinstance(kind, tuple):
            ctype = _T_LIST
        else:
            ctype = {"i32": _T_I32, "i64": _T_I64, "bin": _T_BINARY, "struct": _T_STRUCT}[kind]
        delta = fid - last
        if 0 < delta <= 15:
            out.append((delta << 4) | ctype)
        else:
            out.append(ctype)
            out += _uleb(_zigzag(fid))
        last = fid
        if kind != "bool":
            _encode_value(kind, value, out)
    out.append(0)


def _encode_value(kind, value, out):
    if kind in ("i32", "i64"):
        out += _uleb(_zigzag(value))
    elif kind == "bin":
        data = value.encode() if isinstance(value, str) else value
        out += _uleb(len(data))
        out += data
    elif kind == "struct":
        _encode_struct(value, out)
    else:
        element = kind[1]
        ctype = {"i32": _T_I32, "i64": _T_I64, "bin": _T_BINARY, "struct": _T_STRUCT}[element]
        if len(value) < 15:
            out.append((len(value) << 4) | ctype)
        else:
            out.append(0xF0 | ctype)
            out += _uleb(len(value))
        for v in value:
            _encode_value(element, v, out)


def _thrift(fields):
    out = bytearray()
    _encode_struct(fields, out)
    return bytes(out)


def _hybrid(levels, bit_width):
    """RLE/bit-packed hybrid encoding of levels (a uint8 array): one RLE run when all levels are
    equal, else one bit-packed run."""
    n = len(levels)
    if n and (levels == levels[0]).all():
        return _uleb(n << 1) + bytes([int(levels[0])])
    groups = (n + 7) // 8
    padded = np.zeros(groups * 8, dtype=np.uint8)
    padded[:n] = levels
    bits = (padded[:, None] >> np.arange(bit_width, dtype=np.uint8)) & 1
    return _uleb((groups << 1) | 1) + np.packbits(bits.ravel(), bitorder="little").tobytes()


def _byte_arrays(values):
    """PLAIN BYTE_ARRAY encoding of a sequence of str: each value as a 4-byte length + UTF-8."""
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    n = len(encoded)
    if n == 0:
        return b""
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    out = np.empty(4 * n + len(data), dtype=np.uint8)
    starts = 4 * np.arange(n) + np.concatenate(([0], np.cumsum(lengths)[:-1]))
    is_length = np.zeros(len(out), dtype=bool)
    le = lengths.astype("<u4").view(np.uint8).reshape(n, 4)
    for k in range(4):
        out[starts + k] = le[:, k]
        is_length[starts + k] = True
    out[~is_length] = data
    return out.tobytes()


def _values(kind, series):
    """(definition levels, PLAIN bytes of the non-null values) of a flat column."""
    s = series
    if kind in ("timestamp", "date"):
        t = pd.to_datetime(s)
        present = t.notna().to_numpy()
        ms = t.to_numpy(dtype="datetime64[ms]")[present].astype(np.int64)
        if kind == "date":
            return present, (ms // 86400000).astype("<i4").tobytes()
        return present, ms.astype("<i8").tobytes()
    present = s.notna().to_numpy()
    if kind == "string":
        return present, _byte_arrays(s.to_numpy(dtype=object)[present])
    v = s[present]
    if kind == "decimal":
        cents = np.rint(v.to_numpy(dtype=np.float64) * 100)
        return present, cents.astype("<i8").tobytes()
    if kind == "int64":
        return present, v.to_numpy(dtype=np.int64).astype("<i8").tobytes()
    if kind == "int32":
        return present, v.to_numpy(dtype=np.int64).astype("<i4").tobytes()
    if kind == "double":
        return present, v.to_numpy(dtype=np.float64).astype("<f8").tobytes()
    if kind == "bool":
        return present, np.packbits(v.to_numpy(dtype=bool), bitorder="little").tobytes()
    raise ValueError("unknown column type " + kind)


_PHYSICAL = {"string": _BYTE_ARRAY, "int64": _INT64, "int32": _INT32, "double": _DOUBLE,
             "bool": _BOOLEAN, "timestamp": _INT64, "date": _INT32, "decimal": _INT64,
             "string_list": _BYTE_ARRAY}


def _schema_elements(schema):
    elements = [[(4, "bin", "schema"), (5, "i32", len(schema))]]
    for name, kind in schema:
        if kind == "string_list":
            elements.append([(3, "i32", _OPTIONAL), (4, "bin", name), (5, "i32", 1),
                             (6, "i32", _LIST), (10, "struct", [(3, "struct", [])])])
            elements.append([(3, "i32", _REPEATED), (4, "bin", "list"), (5, "i32", 1)])
            elements.append([(1, "i32", _BYTE_ARRAY), (3, "i32", _OPTIONAL), (4, "bin", "element"),
                             (6, "i32", _UTF8), (10, "struct", [(1, "struct", [])])])
            continue
        e = [(1, "i32", _PHYSICAL[kind]), (3, "i32", _OPTIONAL), (4, "bin", name)]
        if kind == "string":
            e += [(6, "i32", _UTF8), (10, "struct", [(1, "struct", [])])]
        elif kind == "date":
            e += [(6, "i32", _DATE), (10, "struct", [(6, "struct", [])])]
        elif kind == "decimal":
            e += [(6, "i32", _DECIMAL), (7, "i32", 2), (8, "i32", 18),
                  (10, "struct", [(5, "struct", [(1, "i32", 2), (2, "i32", 18)])])]
        elif kind == "timestamp":
            # TIMESTAMP(isAdjustedToUTC=false, MILLIS): DuckDB reads it as TIMESTAMP.
            e += [(10, "struct", [(8, "struct", [(1, "bool", False),
                                                 (2, "struct", [(1, "struct", [])])])])]
        elements.append(e)
    return elements


def _page(body, num_values, compress):
    data = compress(body) if compress else body
    header = _thrift([(1, "i32", 0), (2, "i32", len(body)), (3, "i32", len(data)),
                      (5, "struct", [(1, "i32", num_values), (2, "i32", _PLAIN),
                                     (3, "i32", _RLE), (4, "i32", _RLE)])])
    return header + data, len(header) + len(body)


def _column_chunk(kind, series, compress):
    """(chunk bytes, uncompressed size, number of values) of one column of one row group."""
    if kind == "string_list":
        lists = series.to_numpy(dtype=object)
        present = np.array([isinstance(v, (list, tuple, np.ndarray)) for v in lists], dtype=bool)
        lengths = np.zeros(len(lists), dtype=np.int64)
        lengths[present] = [len(v) for v in lists[present]]
        # One level entry per element, or one for a null or empty list.
        entries = np.maximum(lengths, 1)
        first = np.concatenate(([0], np.cumsum(entries)[:-1]))
        total = int(entries.sum())
        rep = np.ones(total, dtype=np.uint8)
        rep[first] = 0
        defs = np.full(total, 3, dtype=np.uint8)
        defs[first[~present]] = 0
        defs[first[present & (lengths == 0)]] = 1
        flat = [x for v in lists[present] for x in v]
        rep_bytes, def_bytes = _hybrid(rep, 1), _hybrid(defs, 2)
        body = (struct.pack("<I", len(rep_bytes)) + rep_bytes + struct.pack("<I", len(def_bytes)) +
                def_bytes + _byte_arrays(flat))
        num_values = total
    else:
        present, values = _values(kind, series)
        d = _hybrid(present.astype(np.uint8), 1)
        body = struct.pack("<I", len(d)) + d + values
        num_values = len(series)
    page, uncompressed = _page(body, num_values, compress)
    return page, uncompressed, num_values


def write_parquet(df, schema, path, compression="zstd"):
    """Writes df's columns named in schema (in that order) to path. Returns the rows written."""
    compress = None
    codec = _UNCOMPRESSED
    if compression == "zstd" and zstandard is not None:
        compress = zstandard.ZstdCompressor(level=3).compress
        codec = _ZSTD
    n = len(df)
    out = bytearray(b"PAR1")
    row_groups = []
    for start in range(0, max(n, 1), ROW_GROUP_ROWS):
        part = df.iloc[start:start + ROW_GROUP_ROWS]
        chunks = []
        group_bytes = 0
        for name, kind in schema:
            page, uncompressed, num_values = _column_chunk(kind, part[name], compress)
            offset = len(out)
            out += page
            group_bytes += uncompressed
            path_in_schema = [name, "list", "element"] if kind == "string_list" else [name]
            meta = [(1, "i32", _PHYSICAL[kind]), (2, ("list", "i32"), [_PLAIN, _RLE]),
                    (3, ("list", "bin"), path_in_schema), (4, "i32", codec),
                    (5, "i64", num_values), (6, "i64", uncompressed), (7, "i64", len(page)),
                    (9, "i64", offset)]
            chunks.append([(2, "i64", offset), (3, "struct", meta)])
        row_groups.append([(1, ("list", "struct"), chunks), (2, "i64", group_bytes),
                           (3, "i64", len(part))])
    footer = _thrift([(1, "i32", 1), (2, ("list", "struct"), _schema_elements(schema)),
                      (3, "i64", n), (4, ("list", "struct"), row_groups),
                      (6, "bin", "recsys bench/reference/parquet_lite.py")])
    out += footer
    out += struct.pack("<I", len(footer))
    out += b"PAR1"
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, path)
    return n
