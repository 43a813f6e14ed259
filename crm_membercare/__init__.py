"""crm-membercare: a two-way sync between CustomCRM and MemberCare, built as a Dagster project."""
