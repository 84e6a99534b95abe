// JSONL work items: one JSON object per line, its keys as the item's fields; blank lines skipped.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UsageError } from '../../errors.js';
import type { Json } from '../../store/types.js';
import type { ReadRows, Row } from './rows.js';

export function jsonlRows(file: string): ReadRows {
  return async function* read(signal?: AbortSignal): AsyncIterable<Row> {
    const lines = createInterface({
      input: createReadStream(file, signal ? { signal } : {}),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let line = 0;
    for await (const text of lines) {
      line += 1;
      const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
      if (trimmed === '') continue;
      let value: Json;
      try {
        value = JSON.parse(trimmed) as Json;
      } catch (error) {
        throw new UsageError(
          `${file}, line ${line}: not a JSON object (${(error as Error).message}). JSONL holds one object per line, e.g. {"id": "a1", "input": "x.png"}.`,
        );
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new UsageError(`${file}, line ${line}: expected a JSON object, found ${trimmed.slice(0, 40)}`);
      }
      yield { line, values: value };
    }
  };
}
