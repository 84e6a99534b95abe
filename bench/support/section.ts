// What every benchmark takes and gives back, so run.ts can print and save them alike.

export interface BenchOptions {
  /** Small datasets and one run each: a smoke test of the whole harness. */
  quick: boolean;
  /** Timed runs per contender (the median is shown). */
  runs: number;
  /** A folder for stores and other throwaway files; removed after the run. */
  scratch: string;
  /** Progress lines for the person waiting (stderr). */
  say: (line: string) => void;
}

export interface Section {
  name: string;
  title: string;
  /** The markdown table. */
  table: string;
  /** Lines printed under the table: what was measured and how, and what differed from truth. */
  notes: string[];
  /** Everything measured, for .bench/results.json. */
  data: unknown;
}
