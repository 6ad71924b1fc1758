/** A seed refused or failed for a reason the person running it can act on (printed without a stack). */
export class SeedError extends Error {}
