// What a waiting caller is told (F-QUEUE): the position and the estimated wait, built from each language's
// own prompts (Japanese puts ばんめです after the number; English has no word after it).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PromptCatalogue } from '../../../src/media/prompts.js';
import { positionFiles, waitFiles } from '../../../src/features/queue/queue.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const prompts = new PromptCatalogue({ root: join(root, 'prompts'), mohRoot: join(root, 'moh'), languages: ['ja', 'en'] });
prompts.load();
const names = (files: string[]) => files.map((f) => f.slice(root.length));

describe('queue announcements', () => {
  it('position: "あなたの順番は 3 番目です" / "You are caller number 3"', () => {
    expect(names(positionFiles(prompts, 'ja', 3))).toEqual(['prompts/ja/queue-position.wav', 'prompts/ja/3.wav', 'prompts/ja/queue-position-after.wav']);
    expect(names(positionFiles(prompts, 'en', 3))).toEqual(['prompts/en/queue-position.wav', 'prompts/en/3.wav']);
    expect(names(positionFiles(prompts, 'en', 12))).toEqual(['prompts/en/queue-position.wav', 'prompts/en/vm-n-12.wav']);
  });

  it('estimated wait: minutes, or "less than a minute" for one minute or less', () => {
    expect(names(waitFiles(prompts, 'en', 4))).toEqual(['prompts/en/queue-wait.wav', 'prompts/en/4.wav', 'prompts/en/queue-minutes.wav']);
    expect(names(waitFiles(prompts, 'ja', 25))).toEqual(['prompts/ja/queue-wait.wav', 'prompts/ja/vm-n-20.wav', 'prompts/ja/5.wav', 'prompts/ja/queue-minutes.wav']);
    expect(names(waitFiles(prompts, 'en', 1))).toEqual(['prompts/en/queue-wait-short.wav']);
  });
});
