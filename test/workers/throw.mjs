// Fixture worker: throws, as a bug in a thread would.
export default async function throwTask(task) {
  if (task.label.endsWith('3')) throw new Error(`boom on ${task.label}`);
  return { label: task.label, outcome: 'ok', startedAt: 0, finishedAt: 0, collections: [], outputBytes: 0 };
}
