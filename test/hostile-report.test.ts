// Data that tries to reach the reader's terminal or spreadsheet: log fields with control
// characters and formula starts come out escaped in the text and CSV reports.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { escapeCsvCell, escapeTerminal } from '../src/report/escape.js';
import { sluice } from './support/cli.js';
import { azureRecord } from './support/records.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-hostile-report-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const record = (model: string, deployment: string) =>
  azureRecord({ properties: { modelName: model, modelVersion: '1', modelDeploymentName: deployment } });

describe('escapes', () => {
  it('makes every C0 and C1 control visible for a terminal, keeping ordinary text', () => {
    assert.equal(escapeTerminal('a\x1b[31mred\x07\x9b\r\nb é'), 'a\\e[31mred\\x07\\x9b\\r\\nb é');
    assert.equal(escapeTerminal('line1\n\tline2\x1b', { multiline: true }), 'line1\n\tline2\\e');
  });

  it('prefixes cells a spreadsheet would run as a formula with a single quote (OWASP), numbers untouched', () => {
    assert.equal(escapeCsvCell('=1+2'), "'=1+2");
    assert.equal(escapeCsvCell('+cmd'), "'+cmd");
    assert.equal(escapeCsvCell('-2+3'), "'-2+3");
    assert.equal(escapeCsvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(escapeCsvCell('\tx'), "'\tx");
    assert.equal(escapeCsvCell('\rx'), `"'\rx"`);
    assert.equal(escapeCsvCell('=HYPERLINK("http://x","a,b")'), `"'=HYPERLINK(""http://x"",""a,b"")"`);
    assert.equal(escapeCsvCell(-5), '-5');
    assert.equal(escapeCsvCell('gpt-4o'), 'gpt-4o');
    assert.equal(escapeCsvCell(null), '');
  });
});

describe('reports of hostile data', () => {
  it('print no raw ESC or BEL in the text report, and no live formula in the CSV', async () => {
    const data = path.join(dir, 'data', 'y=2025', 'm=06', 'd=09', 'h=14', 'm=00');
    await mkdir(data, { recursive: true });
    await writeFile(
      path.join(data, 'PT1H.json'),
      `${record('\x1b]0;pwned\x07\x1b[2Jgpt', '=HYPERLINK("http://evil","x")')}\n${record('@cmd', '-1+1')}\n`,
    );
    const store = path.join(dir, 's.db');
    const run = await sluice(['ingest', path.join(dir, 'data'), '--store', store, '--progress', 'none']);
    assert.equal(run.code, 0, run.stderr);
    const text = await sluice(['report', '--store', store]);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(!text.stdout.includes('\x07') && !text.stdout.includes('\x1b'), text.stdout);
    assert.match(text.stdout, /\\e\]0;pwned\\x07\\e\[2Jgpt/);
    const csv = await sluice(['report', '--store', store, '--format', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    for (const line of csv.stdout.trim().split('\n').slice(1)) {
      for (const cell of line.split(',')) assert.doesNotMatch(cell, /^"?[=+@\t\r-]/, line);
    }
    assert.match(csv.stdout, /"'=HYPERLINK\(""http:\/\/evil"",""x""\)"/);
    assert.match(csv.stdout, /,'@cmd,/);
    assert.match(csv.stdout, /,'-1\+1,/);
  });
});
