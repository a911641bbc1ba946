import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import {
  brokenLinks,
  headingAnchors,
  markdownFiles,
  relativeLinks,
  slugify,
} from '../support/markdown-links.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the link checker', () => {
  it('slugs headings as GitHub does', () => {
    expect(slugify('Quick start')).toBe('quick-start');
    expect(slugify('When the file already exists (`onExisting`)')).toBe(
      'when-the-file-already-exists-onexisting',
    );
    expect(slugify('`ferry.yaml`')).toBe('ferryyaml');
    expect(slugify('What `publish: direct` gives up')).toBe('what-publish-direct-gives-up');
    expect(slugify('`window`, `expect` and `paused`')).toBe('window-expect-and-paused');
    expect(slugify('Where the time goes, and what would close the gaps')).toBe(
      'where-the-time-goes-and-what-would-close-the-gaps',
    );
    expect(slugify('snake_case and Ünïcode')).toBe('snake_case-and-ünïcode');
  });

  it('numbers repeated headings and ignores headings inside code blocks', () => {
    const anchors = headingAnchors('# Redis\n\n## Redis\n\n```sh\n# not a heading\n```\n\n### Redis\n');
    expect([...anchors]).toEqual(['redis', 'redis-1', 'redis-2']);
  });

  it('finds relative links and images, not external links or links inside code', () => {
    const links = relativeLinks(
      '[a](docs/x.md#y) ![b](img.png) [c](#z) [d](https://example.com) `[e](f.md)`\n```\n[g](h.md)\n```\n',
    );
    expect(links).toEqual(['docs/x.md#y', 'img.png', '#z']);
  });

  describe('on a planted tree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-docs-links-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reports a missing file, a missing anchor and a missing local anchor, and passes good links', () => {
      mkdirSync(join(dir, 'docs'));
      writeFileSync(join(dir, 'docs', 'a.md'), '# A\n\n## Good part\n');
      writeFileSync(
        join(dir, 'README.md'),
        '# Top\n\n[ok](docs/a.md#good-part) [ok2](#top) [gone](docs/b.md) [bad](docs/a.md#bad-part) [here](#nowhere)\n',
      );
      expect(markdownFiles(dir)).toEqual([join(dir, 'README.md'), join(dir, 'docs', 'a.md')]);
      expect(brokenLinks(dir, join(dir, 'README.md'))).toEqual([
        'README.md: docs/b.md: no such file',
        'README.md: docs/a.md#bad-part: no heading with that anchor in docs/a.md',
        'README.md: #nowhere: no heading with that anchor in README.md',
      ]);
    });
  });
});

describe("the repository's Markdown", () => {
  it('checks the README and every file under docs/', () => {
    const files = markdownFiles(root).map((f) => f.slice(root.length));
    expect(files).toContain('README.md');
    expect(files).toContain('docs/README.md');
    expect(files).toContain('docs/configuration.md');
  });

  it('has no relative link to a missing file or heading', () => {
    const problems = markdownFiles(root).flatMap((file) => brokenLinks(root, file));
    expect(problems).toEqual([]);
  });

  it('keeps README.md at 40,000 bytes or less (the rest belongs in docs/)', () => {
    expect(statSync(join(root, 'README.md')).size).toBeLessThanOrEqual(40_000);
  });

  it("lists every error code in the README's error-code table", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const listed = new Set([...readme.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    expect([...listed].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("names every folder of src/ in the README's tree and in docs/architecture.md", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const architecture = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
    const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `src/${entry.name}/`);
    expect(folders.filter((folder) => !readme.includes(folder))).toEqual([]);
    expect(folders.filter((folder) => !architecture.includes(`\`${folder}`))).toEqual([]);
  });
});
