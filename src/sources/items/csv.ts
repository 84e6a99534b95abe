// CSV work items (RFC 4180): a header row, quoted fields holding commas, quotes and newlines, a
// UTF-8 byte-order mark tolerated; streamed with csv-parse, so a 200,000-row list is never held whole.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { UsageError } from '../../errors.js';
import type { ReadRows, Row } from './rows.js';

/** The header as read by the last pass (empty before the first). */
export interface CsvTable {
  read: ReadRows;
  columns: () => readonly string[];
}

export function csvTable(file: string): CsvTable {
  let header: string[] = [];
  async function* read(signal?: AbortSignal): AsyncIterable<Row> {
    const parser = parse({
      bom: true,
      columns: (names: string[]) => {
        header = names.map((n) => n.trim());
        const twice = header.find((n, i) => header.indexOf(n) !== i);
        if (twice !== undefined) {
          throw new UsageError(`${file}: the header names column ${JSON.stringify(twice)} twice (line 1)`);
        }
        return header;
      },
      info: true,
      skip_empty_lines: true,
    });
    // pipeline, not pipe: an abort (or a read error) must end the parser too, or the loop below
    // would wait for its next record forever. Its errors reach us through the parser.
    pipeline(createReadStream(file), parser, signal ? { signal } : {}).catch(() => {});
    try {
      for await (const { info, record } of parser as AsyncIterable<{
        info: { lines: number };
        record: Record<string, string>;
      }>) {
        // `lines` is where the record ends; a quoted field may have spanned several.
        yield { line: info.lines, values: record };
      }
    } catch (error) {
      if (error instanceof UsageError) throw error;
      if (error instanceof CsvError) {
        const line = (error as CsvError & { lines?: number }).lines;
        throw new UsageError(
          `${file}${line ? `, line ${line}` : ''}: not valid CSV (${error.message.replace(/^Invalid [^:]*: /, '')}). ` +
            'Every row needs as many fields as the header; a field with commas, quotes or newlines is quoted ("a, b"), its quotes doubled ("").',
        );
      }
      throw error;
    }
  }
  return { read, columns: () => header };
}
