/** A command line the CLI cannot run: printed as one line with exit code 2 (other errors exit 1). */
export class UsageError extends Error {}
