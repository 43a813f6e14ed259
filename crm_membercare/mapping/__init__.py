"""The mapping layer: the six flows of DESIGN Part B as data, and everything that converts between the
two systems' records.

Public interface (see each module's docstring):

- `flows`: `Flow`, `FLOWS` (dependency order), `flow_by_name(name)`, `MatchRule`, `DerivedLink`.
- `convert`: `crm_to_common`, `mc_to_common`, `common_to_crm_patch`, `apply_common_to_mc`.
- `canonical`: `canonical_values`, `values_hash`, `fields_agree`, `disagreeing_fields`.
- `validation`: `validate_for_membercare`, `validate_for_crm`, `problems_for_membercare`, `problems_for_crm`.
- `links`: `LinkLookup` (protocol), `InMemoryLinks`, `MappingContext(links, countries)`.
- `countries`: `CountryTable.from_api(result)`; `phones`, `dates`, `decimals`: value helpers.
- `problems`: `FieldProblem`, `MappingRejected`, `UnresolvedReference`.
- `document`: `render_dataflow_document()`.
"""

from crm_membercare.mapping.canonical import canonical_values, disagreeing_fields, fields_agree, values_hash
from crm_membercare.mapping.convert import apply_common_to_mc, common_to_crm_patch, crm_to_common, mc_to_common
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import FLOWS, Flow, flow_by_name
from crm_membercare.mapping.links import InMemoryLinks, LinkLookup, MappingContext
from crm_membercare.mapping.problems import FieldProblem, MappingError, MappingRejected, UnresolvedReference
from crm_membercare.mapping.validation import (
    problems_for_crm,
    problems_for_membercare,
    validate_for_crm,
    validate_for_membercare,
)

__all__ = [
    "FLOWS",
    "CountryTable",
    "FieldProblem",
    "Flow",
    "InMemoryLinks",
    "LinkLookup",
    "MappingContext",
    "MappingError",
    "MappingRejected",
    "UnresolvedReference",
    "apply_common_to_mc",
    "canonical_values",
    "common_to_crm_patch",
    "crm_to_common",
    "disagreeing_fields",
    "fields_agree",
    "flow_by_name",
    "mc_to_common",
    "problems_for_crm",
    "problems_for_membercare",
    "validate_for_crm",
    "validate_for_membercare",
    "values_hash",
]
