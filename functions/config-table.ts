// The environment table of docs/configuration.md, rendered from the settings registry and put between its markers.
import {allSettings} from './config-settings';

export const TABLE_START =
  '<!-- config-table:start (generated from functions/config-settings.ts: npm run docs:config) -->';
export const TABLE_END = '<!-- config-table:end -->';

// A `|` inside a cell would end it; a line break would end the table.
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

export function renderConfigTable(): string {
  const rows = allSettings().map(
    s => `| \`${s.variable}\` | ${cell(s.default)} | ${cell(s.description)} |`,
  );
  return [
    '| variable | default | meaning |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The document with the table between its markers regenerated; the start marker is matched by its prefix. */
export function withConfigTable(markdown: string): string {
  const start = markdown.indexOf('<!-- config-table:start');
  const end = markdown.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`no ${TABLE_START} … ${TABLE_END} markers`);
  return `${markdown.slice(0, start)}${TABLE_START}\n${renderConfigTable()}\n${markdown.slice(end)}`;
}
