// Fixture worker: never answers (a host that hangs past every limit, with a thread that ignores the deadline).
export default function hangTask() {
  return new Promise(() => {});
}
