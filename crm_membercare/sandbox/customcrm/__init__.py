"""The CustomCRM sandbox (DESIGN A1, A3): a REST API over a persistent SQLite store.

Modules: `app` (HTTP routes, auth, error bodies), `service` (what each call does: versions, soft deletes,
uniqueness, references, totals, numbers), `validation` + `fields` (request bodies, described as data), `store`
(SQLite), `keyset` (the list cursor), `timestamps` (epoch milliseconds <-> RFC 3339), `errors`.

Choices where DESIGN is silent:
- Required on create: the fields A1 marks required, plus products `price`, orders `order_date`, quotes
  `quote_date`, users `first_name`/`last_name`, and per line `description`, `quantity`, `unit_price`.
  Defaults: `customer_type` "company", `newsletter` false, `currency` "NOK", `vat_rate` 25, `unit` "pcs",
  `active` true, `status` "draft", `role` "sales", `lines` [], line `discount_percent` 0.
- Unknown fields in a body are a 422 (a typo should not vanish silently); read-only fields are ignored.
- Lenient like a CRM: phones free text; an email needs one "@" and no spaces; `country` needs only the shape
  of an ISO code (two capital letters); quantities may be negative; strings have no length limit. Percentages
  (`vat_rate`, `discount_percent`) must lie in 0..100, other numbers within +-1e15; `currency` is three
  capital letters. An id beyond 64 bits names no record (404 in a path; a reference must be a positive
  64-bit integer).
- References (`customer_id`, `contact_id`, `owner_id`, `lines[].product_id`) may point at archived records:
  they still exist. A PATCH checks only the references it sets.
- User emails are unique case-insensitively, among archived users too; skus only among live products.
- Every PATCH is a write (version and `updated_at` move) even when nothing changed. On an archived record a
  PATCH is 409 before `If-Match` is looked at; `If-Match: *` matches any version.
- A write's `updated_at` is the clock's time, but always after the newest record of its resource (by 1 ms when
  two writes share a millisecond), so a keyset iteration never skips a record rewritten in the very millisecond
  of the cursor it holds. A clock set back by more than a second is obeyed.
- Responses to GET/POST/PATCH carry `ETag: "<version>"`; a 201 carries `Location`.
"""
