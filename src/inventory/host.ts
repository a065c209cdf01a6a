// One valid inventory row, as the rest of the program sees it.

export interface InventoryHost {
  /** the hostname column exactly as written (with its port, if any): the host's name in every output */
  label: string;
  /** hostname or IP literal to connect to (no brackets, no port) */
  host: string;
  /** port from the row, when it named one; else the INI's default applies */
  port?: number;
  srvtype: string;
  pop: string;
  status: string;
  notes: string;
  isProd: boolean;
  /** 1-based line in the CSV file */
  line: number;
}

export interface InvalidRow {
  line: number;
  reason: string;
}
