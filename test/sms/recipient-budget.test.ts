import t from 'tap'
import { RecipientBudget } from '../../src/sms/recipient-budget.js'

t.test('a budget takes recipients while they fit, and what is given back may be taken again', async (t) => {
  const budget = new RecipientBudget(100)
  t.ok(budget.take(60))
  t.notOk(budget.take(41), 'past the limit: refused')
  t.equal(budget.inFlight, 60, 'a refusal takes nothing')
  t.ok(budget.take(40), 'up to the limit exactly')
  t.notOk(budget.take(1))
  budget.giveBack(60)
  t.equal(budget.inFlight, 40)
  t.ok(budget.take(60))
  budget.giveBack(60)
  budget.giveBack(40)
  t.equal(budget.inFlight, 0)
  t.throws(() => { budget.giveBack(1) }, RangeError, 'more given back than taken is a bug, not a bigger budget')
  t.throws(() => new RecipientBudget(0), RangeError)
})
