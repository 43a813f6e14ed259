"""The six flows of DESIGN Part B, as data: the one place that says which field maps to which.

`FLOWS` lists them in dependency order (a flow comes after every flow its references go through);
`flow_by_name(name)` finds one. A `Flow` holds:

- `name`, `crm_label`/`mc_label` (for the document), `crm` and `mc`: the two resources it pairs, as declared in
  `crm_membercare.resources` (`crm_resource`, `mc_resource`, `mc_id_field` are their names and id field);
  `mc_part`: for a resource split between flows, the part this flow takes (invoices whose `invoiceType` is
  "Invoice"); None otherwise;
- `match`: the first-link rule (`MatchRule`: keys on both sides, a normaliser, an optional fallback rule);
- `rows`: the property table (`rows.PropertyRow`: CRM field(s), MemberCare path, data type, direction, lossy
  flag, transform);
- `mc_removal`: what propagating a CRM archive does in MemberCare ("close", "delete",
  "delete_draft_else_credit", "none"), and `mc_kept_while_referenced` when a referenced record is
  deactivated instead; `mc_action_statuses`: statuses the API reaches through an action
  endpoint instead of a PUT (("Credited", "credit")); `delete_policy` and `conflict_policy` defaults;
- `creates_records` and `derived` (a `DerivedLink`) for a flow whose links are derived from other flows'.

Code that walks flows reads these fields; nothing asks for a flow by name to decide what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crm_membercare.mapping.paths import AddressField, ContactValue, EmploymentField, Field, McPath
from crm_membercare.mapping.rows import (
    CarriedWith,
    CompanyContact,
    Debtor,
    DebtorOption,
    DocRow,
    ItemField,
    Items,
    JoinedText,
    PropertyRow,
    Simple,
)
from crm_membercare.mapping.transforms import (
    BOOL,
    COUNTRY,
    CURRENCY,
    DATE,
    DIGITS,
    EMAIL,
    MONEY,
    QUANTITY,
    RATE,
    TEXT,
    URL,
    Codec,
    EnumCodec,
    PhoneCodec,
    ReferenceCodec,
)
from crm_membercare.resources import (
    CRM_CONTACTS,
    CRM_CUSTOMERS,
    CRM_ORDERS,
    CRM_PRODUCTS,
    CRM_QUOTES,
    CRM_USERS,
    MC_COMPANIES,
    MC_INVOICES,
    MC_PERSONS,
    MC_PRODUCTS,
    Resource,
)

DeletePolicy = Literal["propagate", "unlink", "ignore"]
ConflictPolicy = Literal["newest", "crm", "membercare"]
MemberCareRemoval = Literal["close", "delete", "delete_draft_else_credit", "none"]


def _trimmed(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


def _email_key(value: Any) -> str | None:
    text = _trimmed(value)
    return text.casefold() if text else None


def _digits_key(value: Any) -> str | None:
    digits = "".join(ch for ch in str(value) if ch.isdigit()) if value is not None else ""
    return digits or None


NORMALISERS: Mapping[str, tuple[Callable[[Any], str | None], str]] = {
    "trimmed": (_trimmed, "compared after trimming spaces"),
    "email": (_email_key, "compared case-insensitively after trimming spaces"),
    "digits": (_digits_key, "compared on their digits only"),
}


@dataclass(frozen=True)
class MatchRule:
    """How two records are recognised as the same on first sight; a key shared by several matches nothing.

    `fallback` applies to a pair where either side has no key under this rule.
    """

    crm_field: str
    mc: McPath
    normaliser: str
    fallback: MatchRule | None = None

    def crm_key(self, record: Mapping[str, Any]) -> str | None:
        return NORMALISERS[self.normaliser][0](record.get(self.crm_field))

    def mc_key(self, record: Mapping[str, Any]) -> str | None:
        return NORMALISERS[self.normaliser][0](self.mc.get(record))

    def describe(self) -> str:
        return f"``{self.crm_field}`` and ``{self.mc.path}``, {NORMALISERS[self.normaliser][1]}"


@dataclass(frozen=True)
class DerivedLink:
    """A flow whose links are derived: a CRM record is linked to the MemberCare records of the records it owns.

    Here: a user ↔ the invoices linked (in flows `through`) to the orders and quotes whose `owner_field`
    is that user. A MemberCare edit of `mc_owner_path` on such an invoice moves the order or quote to the
    CRM user whose `crm_owner_key` equals it (case-insensitive); no such user is a reject.
    """

    through: tuple[str, ...]
    owner_field: str
    mc_owner_path: str
    crm_owner_key: str


@dataclass(frozen=True)
class KeptWhileReferenced:
    """A MemberCare record other MemberCare records still reference is deactivated, not removed (DESIGN C9):
    its `row` is written False instead, since removing it would make every later write of the referencing
    records fail. `referenced_by`: (MemberCare resource, JSON path of the ids it references), `described`
    names those records for the document."""

    row: str
    referenced_by: tuple[tuple[str, str], ...]
    described: str


@dataclass(frozen=True)
class Reference:
    """A row whose value points at records of another flow."""

    field: str
    through: str


@dataclass(frozen=True)
class Flow:
    name: str
    crm_label: str
    mc_label: str
    crm: Resource
    mc: Resource
    rows: tuple[PropertyRow, ...]
    match: MatchRule | None = None
    mc_part: str | None = None
    mc_removal: MemberCareRemoval = "close"
    mc_action_statuses: tuple[tuple[str, str], ...] = ()
    delete_policy: DeletePolicy = "propagate"
    conflict_policy: ConflictPolicy = "newest"
    creates_records: bool = True
    derived: DerivedLink | None = None
    mc_kept_while_referenced: KeptWhileReferenced | None = None

    def __post_init__(self) -> None:
        if self.mc_part is not None and (self.mc.split is None or self.mc_part not in self.mc.split.parts):
            raise ValueError(f"flow {self.name}: {self.mc.name} has no part {self.mc_part!r}")

    @property
    def crm_resource(self) -> str:
        return self.crm.resource

    @property
    def mc_resource(self) -> str:
        return self.mc.resource

    @property
    def mc_id_field(self) -> str:
        return self.mc.id_field

    @property
    def mc_split(self) -> tuple[str, str] | None:
        """(API field, value) every MemberCare record of this flow has, for a flow taking part of its resource."""
        return (self.mc.split.field, self.mc_part) if self.mc_part is not None and self.mc.split else None

    @property
    def title(self) -> str:
        return f"{self.crm_label} to {self.mc_label}"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(row.key for row in self.rows)

    def row(self, key: str) -> PropertyRow:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(f"flow {self.name} has no row {key!r}")

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(Reference(row.key, through) for row in self.rows for through in row.references)

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Flows whose links this flow needs: its references' flows, then those its links derive from."""
        names = [ref.through for ref in self.references] + list(self.derived.through if self.derived else ())
        return tuple(dict.fromkeys(names))

    def doc_rows(self) -> tuple[DocRow, ...]:
        return tuple(doc for row in self.rows for doc in row.doc_rows())


def enum_type_text(codec: EnumCodec) -> str:
    """An enum row's data type column, generated from its table so the document cannot drift from it."""
    if not codec.is_lossy:
        return "string (" + ", ".join(f"{crm} ↔ {mc}" for crm, mc in codec.crm_to_mc) + ")"
    groups: dict[str, list[str]] = {}
    for crm, mc in codec.crm_to_mc:
        groups.setdefault(mc, []).append(crm)
    forward = "; ".join(f"{', '.join(crms)} → {mc}" for mc, crms in groups.items())
    back = ", ".join(f"{mc} → {crm}" for mc, crm in codec.mc_to_crm)
    return f"string: {forward}. Back: {back}. Lossy."


def _row(crm_field: str, mc: McPath, mc_type: str, codec: Codec = TEXT, **extra: Any) -> PropertyRow:
    return PropertyRow(crm_field, (crm_field,), (mc.path,), mc_type, Simple(crm_field, mc, codec), **extra)


def _enum_row(crm_field: str, mc: McPath, codec: EnumCodec, **extra: Any) -> PropertyRow:
    return _row(crm_field, mc, enum_type_text(codec), codec, lossy=codec.is_lossy, **extra)


def _reference_row(crm_field: str, mc: McPath, through: str, mc_type: str, **extra: Any) -> PropertyRow:
    return _row(crm_field, mc, mc_type, ReferenceCodec(through=through), references=(through,), **extra)


MC_COUNTRY = AddressField(("country", "id"))


def _address_rows() -> tuple[PropertyRow, ...]:
    return (
        _row("street", AddressField(("street",)), "string"),
        _row("postal_code", AddressField(("postalCode", "zipCode")), "string"),
        _row("city", AddressField(("postalCode", "city")), "string"),
        _row("country", MC_COUNTRY, "integer (MemberCare country id ↔ ISO alpha-2, via addresses/countries)",
             COUNTRY),
    )


def _invoice_rows(number_field: str, date_field: str, due_field: str, status: EnumCodec) -> tuple[PropertyRow, ...]:
    """The rows an order and a quote share with an invoice (B3, B5)."""
    debtor = Debtor(Field("debtorAccountNumber"), (
        DebtorOption("customers", "customer_id", "customers_companies"),
        DebtorOption("contacts", "contact_id", "contacts_persons"),
    ))
    lines = Items("lines", "invoiceItems", (
        ItemField("product_id", "productId", "reference (Products, through products_products)",
                  ReferenceCodec(through="products_products")),
        ItemField("description", "description", "string", TEXT, required=True),
        ItemField("quantity", "quantity", "decimal", QUANTITY, required=True),
        ItemField("unit_price", "unitPrice", "decimal (2 places)", MONEY, required=True),
        ItemField("discount_percent", "discountPercent", "decimal", RATE),
        ItemField("vat_rate", "vatRate", "decimal", RATE),
    ))
    return (
        _row(number_field, Field("orderReference"), "string", direction="to_membercare"),
        PropertyRow(
            "debtor", ("customer_id", "contact_id"), ("debtorAccountNumber",),
            "reference: the customer's company (Companies, through customers_companies) when customer_id is "
            "set, else the contact's person (Persons, through contacts_persons)",
            debtor, references=("customers_companies", "contacts_persons"), required=True,
        ),
        PropertyRow(
            "contact_id", ("contact_id",), ("contactPersonDebtorAccountNumber",),
            "reference (Persons, through contacts_persons); set only when the debtor is a company",
            CompanyContact("contact_id", Field("contactPersonDebtorAccountNumber"),
                           ReferenceCodec(through="contacts_persons"), company_flow="customers_companies"),
            references=("contacts_persons",),
        ),
        _row(date_field, Field("invoiceDate"), "datetime (date at local midnight)", DATE, required=True),
        _row(due_field, Field("payDueDate"), "datetime (date at local midnight)", DATE),
        _enum_row("status", Field("status"), status,
                  lossy_note="several CRM statuses share one MemberCare status; they agree with it"),
        _row("currency", Field("currency"), "string (ISO 4217)", CURRENCY, required=True),
        PropertyRow(
            "lines", ("lines",), ("invoiceItems",), "list", lines, references=("products_products",),
            items=tuple(DocRow(f"lines[].{f.crm_key}", f"invoiceItems[].{f.mc_key}", f.mc_type)
                        for f in lines.fields),
        ),
    )


ORDER_STATUS = EnumCodec(
    crm_to_mc=(("draft", "Draft"), ("confirmed", "Draft"), ("invoiced", "Sent"), ("paid", "Paid"),
               ("cancelled", "Credited")),
    mc_to_crm=(("Draft", "draft"), ("Sent", "invoiced"), ("Paid", "paid"), ("Credited", "cancelled")),
)
QUOTE_STATUS = EnumCodec(
    crm_to_mc=(("draft", "Draft"), ("sent", "Sent"), ("accepted", "Sent"), ("declined", "Credited"),
               ("expired", "Credited")),
    mc_to_crm=(("Draft", "draft"), ("Sent", "sent"), ("Paid", "accepted"), ("Credited", "declined")),
)
PRODUCT_UNIT = EnumCodec(
    crm_to_mc=(("pcs", "Piece"), ("hour", "Hour"), ("month", "Month"), ("year", "Year")),
    mc_to_crm=(("Piece", "pcs"), ("Hour", "hour"), ("Month", "month"), ("Year", "year")),
)
COMPANY_TYPE = EnumCodec(
    crm_to_mc=(("company", "Business"), ("nonprofit", "Nonprofit"), ("public", "Public")),
    mc_to_crm=(("Business", "company"), ("Nonprofit", "nonprofit"), ("Public", "public")),
)
INVOICE_ACTIONS = (("Credited", "credit"),)

PRODUCTS = Flow(
    name="products_products", crm_label="Custom Product", mc_label="MemberCare Products",
    crm=CRM_PRODUCTS, mc=MC_PRODUCTS,
    match=MatchRule("sku", Field("productNumber"), "trimmed"),
    mc_removal="delete",
    mc_kept_while_referenced=KeptWhileReferenced(
        "active", (("invoices", "$.invoiceItems[*].productId"),), "invoice items"),
    rows=(
        _row("sku", Field("productNumber"), "string", required=True),
        _row("name", Field("name"), "string", required=True),
        _row("description", Field("description"), "string"),
        _row("price", Field("price"), "decimal (2 places)", MONEY, required=True),
        _row("currency", Field("currency"), "string (ISO 4217)", CURRENCY),
        _row("vat_rate", Field("vatRate"), "decimal", RATE),
        _enum_row("unit", Field("unit"), PRODUCT_UNIT),
        _row("active", Field("active"), "boolean", BOOL),
    ),
)

CUSTOMERS = Flow(
    name="customers_companies", crm_label="Custom Customer", mc_label="MemberCare Companies",
    crm=CRM_CUSTOMERS, mc=MC_COMPANIES,
    match=MatchRule("org_number", Field("organizationNumber"), "digits",
                    fallback=MatchRule("email", ContactValue("Email"), "email")),
    mc_removal="close",
    rows=(
        _row("name", Field("companyName"), "string", required=True),
        _row("org_number", Field("organizationNumber"), "string (digits)", DIGITS),
        _row("email", ContactValue("Email"), "string (email)", EMAIL),
        _row("phone", ContactValue("Phone"), "string (E.164; parsed with the customer's country as default region)",
             PhoneCodec(mc_country=MC_COUNTRY)),
        _row("website", Field("url"), "string (URL)", URL),
        *_address_rows(),
        _enum_row("customer_type", Field("companyType"), COMPANY_TYPE),
    ),
)

CONTACTS = Flow(
    name="contacts_persons", crm_label="Custom Contact", mc_label="MemberCare Persons",
    crm=CRM_CONTACTS, mc=MC_PERSONS,
    match=MatchRule("email", ContactValue("Email"), "email"),
    mc_removal="close",
    rows=(
        _row("first_name", Field("firstname"), "string", required=True),
        _row("last_name", Field("lastname"), "string", required=True),
        _row("email", ContactValue("Email"), "string (email)", EMAIL),
        _row("phone", ContactValue("Mobile"), "string (E.164; parsed with the contact's country as default region)",
             PhoneCodec(mc_country=MC_COUNTRY)),
        _row("birth_date", Field("birthDate"), "datetime (date at local midnight)", DATE),
        *_address_rows(),
        _reference_row("customer_id", EmploymentField("companyDebtorAccountNumber"), "customers_companies",
                       "reference (Companies, through customers_companies)",
                       note="the customer is the person's first employment, the only one the sync owns; the "
                            "others are MemberCare's and are kept. Setting a customer on a person without "
                            "employments adds one; clearing it removes the first employment only, so the next "
                            "one becomes the first and its company and position come back to the contact as "
                            "its customer and title (the pair then agrees, it does not drift)"),
        PropertyRow(
            "title", ("title",), ("employments[0].position",),
            "string (carried only when the contact has a linked customer: MemberCare has no employment "
            "without a company)",
            CarriedWith("title", EmploymentField("position"), TEXT, with_field="customer_id"),
            lossy=True, lossy_note="a title without a customer is not carried: it reads as empty",
        ),
        _row("newsletter", Field("allowEmail"), "boolean", BOOL),
    ),
)

ORDERS = Flow(
    name="orders_invoices", crm_label="Custom Order", mc_label="MemberCare Invoices",
    crm=CRM_ORDERS, mc=MC_INVOICES, mc_part="Invoice",
    match=MatchRule("order_number", Field("orderReference"), "trimmed"),
    mc_removal="delete_draft_else_credit", mc_action_statuses=INVOICE_ACTIONS,
    rows=(*_invoice_rows("order_number", "order_date", "due_date", ORDER_STATUS),
          _row("notes", Field("text"), "string")),
)

QUOTES = Flow(
    name="quotes_invoices", crm_label="Custom Quote", mc_label="MemberCare Invoices",
    crm=CRM_QUOTES, mc=MC_INVOICES, mc_part="Proforma",
    match=MatchRule("quote_number", Field("orderReference"), "trimmed"),
    mc_removal="delete_draft_else_credit", mc_action_statuses=INVOICE_ACTIONS,
    rows=_invoice_rows("quote_number", "quote_date", "valid_until", QUOTE_STATUS),
)

USERS = Flow(
    name="users_invoices", crm_label="Custom User", mc_label="MemberCare Invoices",
    crm=CRM_USERS, mc=MC_INVOICES,
    mc_removal="none", delete_policy="ignore", creates_records=False,
    derived=DerivedLink(through=("orders_invoices", "quotes_invoices"), owner_field="owner_id",
                        mc_owner_path="ourReferenceEmail", crm_owner_key="email"),
    rows=(
        PropertyRow(
            "our_reference", ("first_name", "last_name"), ("ourReference",), "string",
            JoinedText(("first_name", "last_name"), Field("ourReference")),
            direction="to_membercare", lossy=True, crm_label='first_name + " " + last_name',
            lossy_note="the CRM's name parts are joined; MemberCare's text is never split back",
        ),
        _row("email", Field("ourReferenceEmail"), "string (email)", EMAIL, direction="to_membercare",
             note="a MemberCare edit of it moves the order or quote to the user with that email (see above); "
                  "the user's own email is never changed from MemberCare"),
    ),
)

FLOWS: tuple[Flow, ...] = (PRODUCTS, CUSTOMERS, CONTACTS, ORDERS, QUOTES, USERS)
_BY_NAME = {flow.name: flow for flow in FLOWS}


def flow_by_name(name: str) -> Flow:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no flow named {name!r}; known: {', '.join(_BY_NAME)}") from None
