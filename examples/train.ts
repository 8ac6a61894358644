/** `bun run train`: trains a Llama-style model with fully-quantized linear layers. With no flags: preset tiny
 * (2 layers, width 128, byte-level), recipe quartet2 (Quartet II), the embedded corpus, on the GPU if there is
 * one, else the CPU; a few minutes on 2 cores. Writes runs/<name>/{metrics.jsonl, loss.svg, summary.json,
 * checkpoints/}. `bun run train --help` lists every flag. */
import { createLlama } from "../src/model/llama.ts";
import { main } from "../src/train/cli.ts";

process.exitCode = await main(process.argv.slice(2), createLlama);
