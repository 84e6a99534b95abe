// The "single-threaded script" a user writes first: walk the folder, read each PT1H.json line by
// line with readline, JSON.parse each line, aggregate in memory. Correct, one core, no resume.
// Usage: node bench/naive/node-local.mjs <dir>   (prints the summary as JSON)
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Tally, WRAPPER } from './tally.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node-local.mjs <dir>');
  process.exit(2);
}

const tally = new Tally();
const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('PT1H.json')).sort();
for (const file of files) {
  const lines = createInterface({ input: createReadStream(join(dir, file), 'utf8'), crlfDelay: Infinity });
  // The pre-2018 form is one JSON document, maybe over many lines: gather it and parse it whole.
  let wrapper = null;
  let first = true;
  for await (const line of lines) {
    if (first) {
      first = false;
      const head = line.replace(/^\uFEFF/, '');
      if (head.trim() === '{' || WRAPPER.test(head)) wrapper = [];
    }
    if (wrapper) wrapper.push(line);
    else tally.line(line);
  }
  if (wrapper) tally.blob(wrapper.join('\n'));
}
process.stdout.write(`${JSON.stringify({ files: files.length, ...tally.summary() })}\n`);
