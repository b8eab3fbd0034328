/** The `facerest extract` progress line on a terminal: count, rate and time left. */

export class CountProgress {
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(private readonly total: number, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  /** Drawing only on a terminal: piped stderr (CI logs, files) stays free of carriage returns. */
  get visible(): boolean {
    return this.stream.isTTY === true;
  }

  tick(): void {
    this.done++;
    const now = Date.now();
    if (!this.visible || (now - this.lastDraw < 100 && this.done < this.total)) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const eta = rate > 0 ? Math.ceil((this.total - this.done) / rate) : 0;
    const width = 24;
    const filled = Math.round((this.done / Math.max(1, this.total)) * width);
    this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} `
      + `${rate.toFixed(1)} img/s ETA ${eta}s \x1b[K`);
  }

  /** Clears the line so the next output starts clean. */
  end(): void {
    if (this.visible) this.stream.write('\r\x1b[K');
  }
}
