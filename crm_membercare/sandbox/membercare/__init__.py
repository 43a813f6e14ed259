"""The MemberCare sandbox: a FastAPI server over a SQLite store, following DESIGN Part A2 and A3.

Choices made where DESIGN is silent:
- A PUT without `status` keeps the invoice's status (resetting it to Draft would be an illegal move).
- POST may create Draft or Sent only; asking for Paid or Credited is a 422 on `status`.
- A PUT on a closed debtor is allowed and edits it; it stays closed. DELETE on a closed debtor changes nothing.
- Address ids are kept by position: after a PUT the address at position i carries the id stored at position i;
  extra addresses get fresh ids.
- `changedAfter` in the skipped spring hour means "just before the clock jumped" (everything shown at 03:00:00
  or later matches). Fractions of a second are dropped. Every write bumps `lastChange`, even an identical PUT.
- Strings are at most 4000 characters; quantities are >= 0; `discountPercent` and `vatRate` are 0..100; all
  numbers (quantities too) carry at most 2 decimals and lie within +-1e15 (422 `out_of_range`); integers fit
  64 bits, and an id beyond that names no record (404 in a path, 422 `unknown_reference` in a body).
  `currency` is three capital letters. A page past the last one is empty.
- Deleting a product that invoices still name is allowed (the invoice lines keep the dangling `productId`).
- 401 codes: `invalid_api_key`, `missing_token`, `invalid_token`, `token_expired`. Tokens live in memory.
"""
