"""The personal but private assistant: who is asking, what is kept about them, and forgetting.

- `redaction`: personal data (emails, phone numbers, cards, tokens, IBANs) replaced by typed
  placeholders before anything is stored or sent to a model; `cards` tells a card number
  from the other long numbers people paste.
- `retention`: message text older than `[privacy] retention_days` purged on the clock's tick.
- `people`: opt-in memory, forget-me (with tombstones) and the export of what is kept.
- `audiences`: documents only some people may see, filtered before ranking.
- `drafts`: the draft channel mode (answers proposed to staff, posted once on *Post*).
- `journey`: the welcome for a member's first question.
"""
