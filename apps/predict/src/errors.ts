/** A library error as a user reads it: "Error in decodeImage: cannot decode 'x'…" -> "cannot decode 'x'…". */
export function plainMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Error in \w+: /, '');
}
