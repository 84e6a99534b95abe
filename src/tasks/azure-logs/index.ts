// The azure-logs task: streams one PT1H.json blob through the parser and returns its delta.
import type { Readable } from 'node:stream';
import type { Resume, Task, TaskResult } from '../types.js';
import { BlobParser } from './parse.js';

export const azureLogsTask: Task = {
  name: 'azure-logs',
  async process(input: Readable, resume: Resume): Promise<TaskResult> {
    const parser = new BlobParser(resume);
    for await (const chunk of input) parser.push(chunk as Buffer);
    return parser.end();
  },
};
