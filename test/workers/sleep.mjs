// Fixture worker: answers after task.ms milliseconds, reporting which thread it ran on.
import { threadId } from 'node:worker_threads';

export default async function sleepTask(task) {
  await new Promise((r) => setTimeout(r, task.ms ?? 10));
  return { label: task.label, outcome: 'ok', startedAt: 0, finishedAt: 0, collections: [], outputBytes: 0, threadId };
}
