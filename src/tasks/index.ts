// The task registry: every kind of work sluice does, by name, in one place. A task's folder holds
// its work (`Task`), its report and its counter-key schema; nothing else names a task.
import type { Delta } from '../aggregate/delta.js';
import type { Section } from '../render/page.js';
import type { JobStatus, Store } from '../store/types.js';

/** What `report` needs from a task: its JSON object (the contract) and its text and CSV forms. */
export interface TaskReport {
  /** Builds the report object (`report --format json`). */
  build(input: { job: string; status: JobStatus; aggregates: Delta; store: Store }): Promise<object>;
  text(report: object): string;
  csv(report: object): string;
  /** The task's own sections of the HTML page; without them, the page shows the report's tables. */
  htmlSections?(report: object): Section[];
}

export interface TaskEntry {
  /** One line for `--help` and errors. */
  readonly summary: string;
  report(): Promise<TaskReport>;
}

export const TASKS: ReadonlyMap<string, TaskEntry> = new Map<string, TaskEntry>([
  [
    'azure-logs',
    {
      summary: 'Azure Monitor resource logs (PT1H.json): status classes, models, days, latency',
      report: async () => (await import('./azure-logs/report/index.js')).azureLogsReport,
    },
  ],
  [
    'analyze',
    {
      summary: 'sluice analyze --store: log files (levels, errors, templates, training, API latency, health)',
      report: async () => (await import('./analyze/report.js')).analyzeReport,
    },
  ],
  [
    'exec',
    {
      summary: 'sluice run: a command per work item (counts, durations, exit codes, memory, failures)',
      report: async () => (await import('./exec/report.js')).execReport,
    },
  ],
]);

export function taskEntry(name: string): TaskEntry | undefined {
  return TASKS.get(name);
}
