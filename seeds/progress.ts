/**
 * A progress bar on stderr for long work (seeding, imports). On a terminal it redraws one line;
 * in logs (CI, pipes) it prints a line at every 10% so the log stays readable.
 */
export interface Progress {
  (done: number, total: number, label: string): void;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr, width = 30): Progress {
  let lastDecile = -1;
  let lastLabel = '';
  return (done, total, label) => {
    const ratio = total === 0 ? 1 : Math.min(1, done / total);
    const pct = Math.floor(ratio * 100);
    if (stream.isTTY) {
      const filled = Math.round(ratio * width);
      stream.write(`\r  [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(pct).padStart(3)}%  ${label} ${done}/${total}\x1b[K`);
      if (ratio >= 1) stream.write('\n');
      return;
    }
    const decile = Math.floor(pct / 10);
    if (label !== lastLabel) lastDecile = -1;
    if (decile !== lastDecile) {
      stream.write(`  ${String(pct).padStart(3)}%  ${label} ${done}/${total}\n`);
      lastDecile = decile;
      lastLabel = label;
    }
  };
}

export const silentProgress: Progress = () => undefined;
