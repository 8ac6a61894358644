/** The JSON-lines metrics log: one object per step ({step, loss, lr, grad_norm, tokens_per_s, ...}, plus
 * val_loss on evaluation steps). Appended line by line, so a crash loses at most the line being written; on
 * resume the lines past the checkpoint's step are dropped, so the log matches the resumed trajectory. */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "./checkpoint.ts";

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  elapsed_s: number;
  val_loss?: number;
  skipped?: string;
  [key: string]: unknown;
}

export class MetricsLog {
  readonly path: string;
  readonly records: StepRecord[];

  private constructor(path: string, records: StepRecord[]) {
    this.path = path;
    this.records = records;
  }

  /** A new log (an existing file is replaced). */
  static create(path: string): MetricsLog {
    writeFileAtomic(path, "");
    return new MetricsLog(path, []);
  }

  /** The log of a resumed run: keeps the records up to and including `step`. */
  static resume(path: string, step: number): MetricsLog {
    const records: StepRecord[] = [];
    if (existsSync(path)) {
      for (const line of readFileSync(path, "utf8").split("\n")) {
        if (line.trim() === "") continue;
        let r: StepRecord;
        try {
          r = JSON.parse(line) as StepRecord;
        } catch {
          break; // a torn last line
        }
        if (r.step > step) break;
        records.push(r);
      }
    }
    writeFileAtomic(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    return new MetricsLog(path, records);
  }

  append(r: StepRecord): void {
    this.records.push(r);
    appendFileSync(this.path, `${JSON.stringify(r)}\n`);
  }
}
