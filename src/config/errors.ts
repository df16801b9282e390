// Config problems carry a file and line so an admin can jump straight to the offending YAML (F-RELOAD).

export interface ConfigError {
  file: string;
  /** 1-based line; 1 when the problem concerns the file as a whole. */
  line: number;
  /** 1-based column, when known. */
  column?: number;
  message: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}: ${e.message}`;
}
