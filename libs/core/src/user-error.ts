/**
 * A problem the user can fix (a bad flag, config key, path or file): the `lumen` command
 * prints its message as one line, without a stack trace, and exits with code 2. Libraries
 * throw it (or a subclass, like @lumen/config's ConfigError) where the message alone says
 * what was wrong and what to do.
 */
export class UserError extends Error {
  override name = 'UserError';
}
