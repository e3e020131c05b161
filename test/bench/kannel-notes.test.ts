import t from 'tap'
import { ceilingNote, forwarderNote } from '../../bench/lib/kannel-notes.js'

t.test('the ceiling note names what held the gateway back', async (t) => {
  const note = (ceiling: number, oneThreadLimit: number) => ceilingNote({ cores: 2, ceiling, oneThreadLimit, kannel: 3000 })
  t.match(note(2900, 2800), /2900 msg\/s, 0\.97× Kannel's measured rate: short of the target however the gateway used the cores/)
  t.match(note(3300, 2800), /1\.10× Kannel's measured rate: the cores it left idle would meet the target, but only a gateway on more than one thread could use them: its one thread busy all the time caps it at 2800 msg\/s/)
  t.match(note(3300, 3100), /the cores it left idle would meet the target, and its one thread \(busy all the time, 3100 msg\/s\) could too: the synchronous chain held it back/)
  t.match(note(3000, 3000), /and its one thread/, 'exactly at Kannel\'s rate meets the target')
})

t.test('the forwarder note says what the target asks of the gateway against the least a Node gateway does', async (t) => {
  t.equal(forwarderNote({ gateway: 2800, forwarder: 3500, kannel: 3150 }),
    'the minimal forwarder delivered 1.11× Kannel\'s rate and the gateway 0.80× the forwarder\'s: the target asked the gateway for 0.90× the forwarder\'s rate (row 1 asks 0.8×)')
  t.equal(forwarderNote({ gateway: 2800, forwarder: 3000, kannel: 3300 }),
    'the minimal forwarder delivered 0.91× Kannel\'s rate and the gateway 0.93× the forwarder\'s: not even a forwarder with no feature, on one Node thread, met the target here')
  t.match(forwarderNote({ gateway: 2800, forwarder: 3000, kannel: 3000 }), /asked the gateway for 1\.00× the forwarder's rate/, 'a forwarder exactly at Kannel\'s rate meets it')
})
