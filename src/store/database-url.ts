// Which backend `[storage] database` names: a postgres:// or postgresql:// URL, else a SQLite file.

export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}
