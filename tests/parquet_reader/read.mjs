// An independent Parquet reader: hyparquet (pure JavaScript, no DuckDB or Arrow code) with zstd
// and snappy from hyparquet-compressors. Used by tests/parquet_reader_test.cc to check that the
// silver and gold files are plain Parquet that any reader understands.
//
//   node tests/parquet_reader/read.mjs [--rows N] FILE...
//
// Prints one JSON array on stdout, an object per file in argument order:
//   {"file": ..., "rows": <row count>, "columns": [{"name", "type", "logical"}...],
//    "first_rows": [{column: value, ...}, ...]}   (the first N rows, default 5, in file order)
// Values as JSON: integers as numbers (as strings beyond 2^53), timestamps and dates as ISO 8601
// strings ("2024-01-01T00:00:00.000Z"), lists as arrays, null as null. Exit 1 with a message on
// stderr if a file cannot be read.
import {
  asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema,
} from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

function usage() {
  process.stderr.write('usage: node read.mjs [--rows N] FILE...\n')
  process.exit(2)
}

function plain(value) {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString()
  }
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
  if (Array.isArray(value)) return value.map(plain)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

async function readOne(path, rows) {
  const file = await asyncBufferFromFile(path)
  const metadata = await parquetMetadataAsync(file)
  const schema = parquetSchema(metadata)
  const columns = schema.children.map((c) => ({
    name: c.element.name,
    type: c.element.type ?? 'GROUP',
    logical: c.element.logical_type?.type ?? c.element.converted_type ?? null,
  }))
  const total = Number(metadata.num_rows)
  const first = await parquetReadObjects({
    file,
    metadata,
    compressors,
    rowStart: 0,
    rowEnd: Math.min(rows, total),
  })
  return { file: path, rows: total, columns, first_rows: first.map(plain) }
}

async function main() {
  const args = process.argv.slice(2)
  let rows = 5
  const files = []
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--rows') {
      rows = Number(args[++i])
      if (!Number.isInteger(rows) || rows < 0) usage()
    } else if (args[i].startsWith('-')) {
      usage()
    } else {
      files.push(args[i])
    }
  }
  if (files.length === 0) usage()
  const out = []
  for (const f of files) {
    try {
      out.push(await readOne(f, rows))
    } catch (e) {
      process.stderr.write(`read.mjs: ${f}: ${e.message}\n`)
      process.exit(1)
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

await main()
