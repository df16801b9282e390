// Control messages to and from a media worker go once per event-loop turn (issue #13): a turn's messages
// arrive together and in order, a lone message goes as itself, and what is dropped is never sent.
import { describe, expect, it } from 'vitest';
import { eachMessage, TurnBatch, type Batched } from '../../../src/media/builtin/turn-batch.js';

interface Msg {
  n: number;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup() {
  const sent: Batched<Msg>[] = [];
  const batch = new TurnBatch<Msg>((arrived) => sent.push(arrived));
  return { sent, batch };
}

describe('TurnBatch', () => {
  it('sends the messages of one turn as one array, in the order they were posted', async () => {
    const { sent, batch } = setup();
    batch.push({ n: 1 });
    batch.push({ n: 2 });
    batch.push({ n: 3 });
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toEqual([[{ n: 1 }, { n: 2 }, { n: 3 }]]);
  });

  it('sends a lone message as itself, and each later turn separately', async () => {
    const { sent, batch } = setup();
    batch.push({ n: 1 });
    await nextTurn();
    batch.push({ n: 2 });
    batch.push({ n: 3 });
    await nextTurn();
    expect(sent).toEqual([{ n: 1 }, [{ n: 2 }, { n: 3 }]]);
  });

  it('flush sends at once, and the turn then sends only what came after', async () => {
    const { sent, batch } = setup();
    batch.push({ n: 1 });
    batch.flush();
    expect(sent).toEqual([{ n: 1 }]);
    batch.push({ n: 2 });
    await nextTurn();
    expect(sent).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('drop discards what this turn posted', async () => {
    const { sent, batch } = setup();
    batch.push({ n: 1 });
    batch.drop();
    await nextTurn();
    expect(sent).toEqual([]);
    batch.push({ n: 2 });
    await nextTurn();
    expect(sent).toEqual([{ n: 2 }]);
  });
});

describe('eachMessage', () => {
  it('hands over a lone message and each message of an array in order', () => {
    const seen: number[] = [];
    eachMessage<Msg>({ n: 1 }, (m) => seen.push(m.n));
    eachMessage<Msg>([{ n: 2 }, { n: 3 }], (m) => seen.push(m.n));
    expect(seen).toEqual([1, 2, 3]);
  });
});
