// Config problems carry a file and line so an admin can jump straight to the offending YAML (F-RELOAD).

export interface ConfigError {
  file: string;
  /** 1-based line; 1 when the problem concerns the file as a whole. */
  line: number;
  /** 1-based column, when known. */
  column?: number;
  message: string;
  /** Where in the document, as `extensions[3].ringTimeout`, when the problem is a value (the API names it as the field). */
  path?: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}: ${e.message}`;
}
