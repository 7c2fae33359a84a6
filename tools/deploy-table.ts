// The table of deploy.env's own settings in docs/deployment.md, rendered from tools/deploy-settings.ts and put between
// its markers by `npm run docs:config`; test/deploy.test.ts fails when the two differ.
import {deploySettingList} from './deploy-settings';

export const DEPLOY_TABLE_START =
  '<!-- deploy-table:start (generated from tools/deploy-settings.ts: npm run docs:config) -->';
export const DEPLOY_TABLE_END = '<!-- deploy-table:end -->';

// A `|` inside a cell would end it; a line break would end the table.
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

export function renderDeployTable(): string {
  return [
    '| key | default | meaning |',
    '| --- | --- | --- |',
    ...deploySettingList().map(
      s => `| \`${s.key}\` | ${cell(s.default)} | ${cell(s.description)} |`,
    ),
  ].join('\n');
}

/** The document with the table between its markers regenerated; the start marker is matched by its prefix. */
export function withDeployTable(markdown: string): string {
  const start = markdown.indexOf('<!-- deploy-table:start');
  const end = markdown.indexOf(DEPLOY_TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`no ${DEPLOY_TABLE_START} … ${DEPLOY_TABLE_END} markers`);
  return `${markdown.slice(0, start)}${DEPLOY_TABLE_START}\n${renderDeployTable()}\n${markdown.slice(end)}`;
}
