// Errors raised while loading, overriding, interpolating or validating a configuration.
// Every problem names the file and the key path, plus where the value came from (a YAML line or a
// command-line override) when that is known.

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `model.encoder.att_context_size[0]`; '' for the whole document. */
  readonly path: string;
  readonly message: string;
  /** Where the value came from: `line 12` or `override 'model.x=1'`. */
  readonly where?: string;
}

function formatIssue(issue: ConfigIssue): string {
  const at = issue.path === '' ? '' : `${issue.path}`;
  const where = issue.where ? ` (${issue.where})` : '';
  if (at === '') return `${issue.message}${where}`;
  return `${at}${where}: ${issue.message}`;
}

/** A configuration problem (or several, collected by validation), reported against one file. */
export class ConfigError extends Error {
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[]) {
    const body = issues.length === 1 ? formatIssue(issues[0]!) : `${issues.length} problems:\n` + issues.map((i) => `  - ${formatIssue(i)}`).join('\n');
    super(`${file}: ${body}`);
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }

  /** Convenience for a single problem. */
  static at(file: string, path: string, message: string, where?: string): ConfigError {
    return new ConfigError(file, [where === undefined ? { path, message } : { path, message, where }]);
  }
}
