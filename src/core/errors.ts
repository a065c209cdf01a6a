// Run-level errors and the exit-code table (SPEC §7): each class carries its code from EXIT_CODES;
// src/cli maps them once (cli/program.ts). Host-level trouble is never one of these: it is an
// outcome in a HostResult (core/results.ts). A leaf module: every layer may import it.

/** Every exit code jellyfish ends with but a run's own 0/1/2 (SPEC §6-§7), by the sysexits name. */
export const EXIT_CODES = {
  /** bad flags or arguments */
  usage: 64,
  /** input data that cannot be used: an inventory with no valid row, a feed that is not what it claims */
  dataErr: 65,
  /** an input file that does not exist or cannot be opened */
  noInput: 66,
  /** a bug: an error that is none of these */
  software: 70,
  /** an output file or folder that cannot be created */
  cantCreate: 73,
  /** the database cannot be opened, read or written */
  ioErr: 74,
  /** the run lock is held by a live run (or was lost) */
  tempFail: 75,
  /** scheduler.ini or collector.ini is wrong */
  config: 78,
} as const;

export class JellyfishError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** 64: bad flags or arguments. */
export class UsageError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.usage); }
}

/** 65: the inventory cannot be used (unreadable, no valid row). */
export class InventoryError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.dataErr); }
}

/** 74: the database cannot be opened, read or written. */
export class StorageError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.ioErr); }
}

/** 75: the run lock is held by a live run. */
export class LockHeldError extends JellyfishError {
  constructor(message: string, readonly holder: Record<string, unknown>) { super(message, EXIT_CODES.tempFail); }
}

/** 78: scheduler.ini or collector.ini is wrong. */
export class ConfigError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.config); }
}

/** 65: input data that cannot be used (an advisory feed that is not what it claims to be). */
export class DataError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.dataErr); }
}

/** 66: an input file that does not exist or cannot be opened. */
export class NoInputError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.noInput); }
}

/** 73: an output file or folder that cannot be created. */
export class CannotCreateError extends JellyfishError {
  constructor(message: string) { super(message, EXIT_CODES.cantCreate); }
}
