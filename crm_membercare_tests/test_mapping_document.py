"""The QA dataflow document and the flow table it is generated from."""

from __future__ import annotations

import re
from pathlib import Path

import docutils.core
import docutils.nodes
import pytest

from crm_membercare import cli
from crm_membercare.mapping import FLOWS, flow_by_name
from crm_membercare.mapping.document import render_dataflow_document
from crm_membercare.mapping.transforms import EnumCodec

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "dataflow.rst"
MAPPING_DIR = Path(__file__).resolve().parents[1] / "crm_membercare" / "mapping"


def doctree() -> docutils.nodes.document:
    # halt_level 2: any docutils warning (bad table, bad heading) fails the parse.
    return docutils.core.publish_doctree(
        render_dataflow_document(), settings_overrides={"halt_level": 2, "report_level": 2}
    )


def flow_sections() -> list[docutils.nodes.section]:
    return [s for s in doctree().findall(docutils.nodes.section) if any(s.findall(docutils.nodes.table))]


def table_rows(section: docutils.nodes.section) -> list[tuple[str, ...]]:
    [table] = list(section.findall(docutils.nodes.table))
    rows = []
    for row in table.findall(docutils.nodes.row):
        rows.append(tuple(entry.astext() for entry in row.findall(docutils.nodes.entry)))
    return rows


def test_document_is_valid_rst_with_six_flow_sections_in_flow_order():
    sections = flow_sections()
    assert [s[0].astext() for s in sections] == [flow.title for flow in FLOWS]
    assert len(sections) == 6


def test_each_table_has_the_three_columns_and_exactly_the_flows_rows():
    for flow, section in zip(FLOWS, flow_sections(), strict=True):
        header, *rows = table_rows(section)
        assert header == (f"{flow.crm_label} Property", f"{flow.mc_label} Property", "MemberCare Data Type")
        assert rows == [(r.crm, r.membercare, r.mc_type) for r in flow.doc_rows()]


def test_each_section_states_match_rule_and_policies():
    for flow, section in zip(FLOWS, flow_sections(), strict=True):
        text = section.astext()
        assert f"policy {flow.delete_policy}" in text and f"policy {flow.conflict_policy}" in text
        if flow.match is not None:
            assert f"{flow.match.crm_field} and {flow.match.mc.path}" in text
        else:
            assert "derived" in text


def test_docs_file_is_in_sync_with_the_flows():
    assert DOC_PATH.read_text(encoding="utf-8") == render_dataflow_document(), (
        "docs/dataflow.rst is stale: run `crm-membercare docs > docs/dataflow.rst`"
    )


def test_cli_docs_prints_the_document(capsys):
    assert cli.main(["docs"]) == 0
    assert capsys.readouterr().out == render_dataflow_document()


def test_document_is_in_our_own_words():
    text = render_dataflow_document().lower()
    for phrase in ("sesam", "intellectual property", "nda", "confidential", "will be synchronized with"):
        assert phrase not in text


def test_flows_come_after_the_flows_they_depend_on():
    seen: set[str] = set()
    for flow in FLOWS:
        assert set(flow.depends_on) <= seen, flow.name
        seen.add(flow.name)
    assert {f.name for f in FLOWS} == {"contacts_persons", "customers_companies", "orders_invoices",
                                       "products_products", "quotes_invoices", "users_invoices"}


def test_flow_by_name_and_unknown_names():
    assert flow_by_name("orders_invoices").mc_part == "Invoice"
    with pytest.raises(KeyError):
        flow_by_name("nope")


def test_row_keys_are_unique_and_enum_lossiness_is_declared():
    for flow in FLOWS:
        assert len(set(flow.keys)) == len(flow.keys), flow.name
        for row in flow.rows:
            codec = getattr(row.transform, "codec", None)
            if isinstance(codec, EnumCodec):
                assert row.lossy == codec.is_lossy, (flow.name, row.key)
            if row.lossy:
                assert row.lossy_note, (flow.name, row.key)


def test_only_the_flow_table_names_flows():
    """Code that walks flows reads their fields: no other mapping module mentions a flow by name."""
    names = re.compile("|".join(re.escape(f.name) for f in FLOWS))
    offenders = [p.name for p in MAPPING_DIR.glob("*.py") if p.name != "flows.py" and names.search(p.read_text())]
    assert offenders == []
