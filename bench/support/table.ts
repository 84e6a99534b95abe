// Renders rows as a GitHub-flavoured markdown table with aligned columns.

export type Row = Record<string, string>;

export function markdownTable(columns: string[], rows: Row[]): string {
  const cells = [columns, ...rows.map((r) => columns.map((c) => (r[c] ?? '').replace(/\|/g, '\\|')))];
  const widths = columns.map((_, i) => Math.max(3, ...cells.map((line) => (line[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] as number)).join(' | ')} |`;
  return [
    line(cells[0] as string[]),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.slice(1).map(line),
  ].join('\n');
}
