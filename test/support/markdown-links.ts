// Relative links in the repository's Markdown, checked the way GitHub renders them: a link must name an
// existing file and, with an anchor, a heading of that file (GitHub's slug of the heading text).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** GitHub's heading anchor: lower case, punctuation other than - and _ dropped, each space a -. */
export function slugify(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The lines outside fenced code blocks (``` or ~~~), so examples in code never count as headings or links. */
function proseLines(markdown: string): string[] {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const open = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (open !== null) {
      const marker = open[1] as string;
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (fence === undefined) out.push(line);
  }
  return out;
}

/** Every heading anchor of a Markdown text, a repeated heading getting -1, -2, … as on GitHub. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const slug = slugify(heading[1] as string);
    const count = seen.get(slug);
    seen.set(slug, (count ?? -1) + 1);
    anchors.add(count === undefined ? slug : `${slug}-${count + 1}`);
  }
  return anchors;
}

/** The targets of inline links and images, code spans left out; external (scheme:) links excluded. */
export function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const line of proseLines(markdown)) {
    const text = line.replace(/(`+)[^`]*?\1/g, '');
    for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1] as string;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

/** The Markdown files to check: the repository root's, and everything under docs/. */
export function markdownFiles(root: string): string[] {
  const files = readdirSync(root)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(root, name));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules') continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'));
  return files.sort();
}

/** One line per broken link in `file`: `<file>: <target>: <why>`. */
export function brokenLinks(root: string, file: string): string[] {
  const problems: string[] = [];
  const markdown = readFileSync(file, 'utf8');
  const name = relative(root, file);
  for (const target of relativeLinks(markdown)) {
    const hash = target.indexOf('#');
    const path = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const linked = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!existsSync(linked)) {
      problems.push(`${name}: ${target}: no such file`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!linked.endsWith('.md')) {
      problems.push(`${name}: ${target}: an anchor into a file that is not Markdown`);
      continue;
    }
    if (!headingAnchors(readFileSync(linked, 'utf8')).has(anchor)) {
      problems.push(`${name}: ${target}: no heading with that anchor in ${relative(root, linked)}`);
    }
  }
  return problems;
}
