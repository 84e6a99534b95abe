// What one ingest's listing saw, so that a run which matched nothing, or skipped folders it could not
// read, ends with words that say so (and what to fix) instead of a quiet "0 items".

import { escapeTerminal } from '../report/escape.js';
import type { Source } from '../sources/types.js';
import { count } from './format.js';

/** Names kept as examples of what the listing saw. */
const SAMPLES = 5;

export class ListingWatch {
  /** Names the listing gave to the --include glob, and how many it matched. */
  seen = 0;
  matched = 0;
  private readonly samples: string[] = [];

  constructor(private readonly matches: (id: string) => boolean) {}

  /** The glob's test, counting what it is asked and what it matches. */
  readonly include = (id: string): boolean => {
    this.seen += 1;
    if (this.samples.length < SAMPLES) this.samples.push(id);
    const yes = this.matches(id);
    if (yes) this.matched += 1;
    return yes;
  };

  /**
   * The warnings for the end of the run: `glob` matched nothing in a job that has no items, and the
   * folders the source skipped because it could not read them (which make the run exit 1).
   */
  warnings(
    glob: string,
    source: Source,
    jobItems: number,
    windowed: boolean,
  ): { lines: string[]; failed: boolean } {
    const lines: string[] = [];
    if (this.matched === 0 && jobItems === 0) {
      const where = escapeTerminal(source.uri);
      if (this.seen === 0) {
        lines.push(
          `warning: the listing found no files under ${where}${windowed ? ' in the --from/--to window' : ''}: check the source${windowed ? ' and the window' : ''}.`,
        );
      } else {
        const examples = this.samples.map((s) => escapeTerminal(s)).join(', ');
        lines.push(
          `warning: --include ${JSON.stringify(glob)} matched none of the ${count(this.seen)} files the listing saw under ${where} ` +
            `(such as ${examples}${this.seen > this.samples.length ? ', ...' : ''}). ` +
            'The glob is matched against the path below the source; e.g. --include "**/*.json".',
        );
      }
    }
    const problems = source.listingProblems?.() ?? [];
    const unreadable = source.stats.unreadable ?? problems.length;
    if (unreadable > 0) {
      const named = problems.map((p) => `${escapeTerminal(p.path)} (${escapeTerminal(p.reason)})`).join(', ');
      lines.push(
        `warning: ${count(unreadable)} folder${unreadable === 1 ? '' : 's'} or name${unreadable === 1 ? '' : 's'} could not be listed and ${unreadable === 1 ? 'was' : 'were'} skipped: ${named}` +
          `${unreadable > problems.length ? ', ...' : ''}. Fix them (permissions, links, names) and run the same command again to add what they hold.`,
      );
    }
    return { lines, failed: unreadable > 0 };
  }
}
