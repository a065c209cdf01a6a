// Run-level errors: each class carries the exit code (SPEC §7); src/cli maps them once.
// Host-level trouble is never one of these: it is an outcome in a HostResult.

export class JellyfishError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** 64: bad flags or arguments. */
export class UsageError extends JellyfishError {
  constructor(message: string) { super(message, 64); }
}

/** 65: the inventory cannot be used (unreadable, no valid row). */
export class InventoryError extends JellyfishError {
  constructor(message: string) { super(message, 65); }
}

/** 74: the database cannot be opened, read or written. */
export class StorageError extends JellyfishError {
  constructor(message: string) { super(message, 74); }
}

/** 75: the run lock is held by a live run. */
export class LockHeldError extends JellyfishError {
  constructor(message: string, readonly holder: Record<string, unknown>) { super(message, 75); }
}

/** 78: scheduler.ini or collector.ini is wrong. */
export class ConfigError extends JellyfishError {
  constructor(message: string) { super(message, 78); }
}

/** 65: input data that cannot be used (an advisory feed that is not what it claims to be). */
export class DataError extends JellyfishError {
  constructor(message: string) { super(message, 65); }
}

/** 66: an input file that does not exist or cannot be opened. */
export class NoInputError extends JellyfishError {
  constructor(message: string) { super(message, 66); }
}

/** 73: an output file or folder that cannot be created. */
export class CannotCreateError extends JellyfishError {
  constructor(message: string) { super(message, 73); }
}
