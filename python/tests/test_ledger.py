"""Ledger import through the Python bindings — dry run, the refused rows' file in the ledger's own
encoding (GBK stays GBK), the journal of imports and undo — and the shared vocabulary tables (the
same words the CLI and the import accept). Same checks as LedgerTest.kt and LedgerTests.swift."""

import pytest

import gridwalk_ffi as gw

GRID = "640323001001001"

# A desk's GBK ledger: no 社区 column (the grid's community is used), a landline without an area
# code, a desk relation (儿媳 → child, kept in the notes) and a row with a relation no table has.
LEDGER = (
    "楼栋,单元,门牌,户主姓名,与户主关系,联系电话\n"
    "3栋,1单元,101,张建国,户主,13800138000\n"
    "3栋,1单元,101,李秀英,儿媳,6012345\n"
    "3栋,1单元,102,王五,外星人,\n"
).encode("gbk")


def test_dry_run_then_import_with_rejects_file_journal_and_undo(store):
    dry = store.import_ledger_with(LEDGER, gw.ImportOptions(grid_code=GRID, dry_run=True, area_code="0953"))
    assert dry.report.dry_run and dry.report.import_id is None
    assert dry.report.encoding == "gbk"
    assert (dry.report.rows_accepted, len(dry.report.rejected)) == (2, 1)
    assert store.list_households(gw.HouseholdFilter()) == []

    out = store.import_ledger_with(
        LEDGER, gw.ImportOptions(grid_code=GRID, area_code="0953", file_name="台账.csv")
    )
    report = out.report
    assert (report.rows_total, report.rows_accepted, report.households_created, report.residents_created) == (3, 2, 1, 2)
    assert report.rows_with_notes >= 1
    [refused] = report.rejected
    assert refused.line == 4
    assert [(e.field, e.code) for e in refused.errors] == [("relation", gw.ValidationCode.INVALID_VALUE)]
    assert "与户主关系" in refused.reason
    # The refused rows in the ledger's own format: GBK, with a reason column.
    assert out.rejected_file.encoding == "gbk"
    text = out.rejected_file.bytes.decode("gbk")
    assert "王五" in text and "张建国" not in text

    [house] = store.list_households(gw.HouseholdFilter())
    assert house.address.community == "幸福社区"
    phones = {r.name: r.phone for r in store.residents_of(house.id)}
    assert phones["李秀英"].startswith("0953") and phones["李秀英"].endswith("6012345")

    # The same file again changes nothing and makes no import to undo.
    again = store.import_ledger_with(LEDGER, gw.ImportOptions(grid_code=GRID, area_code="0953"))
    assert (again.report.residents_created, again.report.residents_unchanged, again.report.import_id) == (0, 2, None)

    [entry] = store.ledger_imports()
    assert (entry.id, entry.file_name, entry.created, entry.undone_at_ms) == (report.import_id, "台账.csv", 3, None)
    undo = store.undo_import(entry.id)
    assert (undo.households_removed, undo.residents_removed, undo.changes_withdrawn) == (1, 2, 3)
    assert store.list_households(gw.HouseholdFilter()) == []
    assert store.ledger_imports()[0].undone_at_ms is not None
    with pytest.raises(gw.GridwalkError.InvalidState):
        store.undo_import(entry.id)
    with pytest.raises(gw.GridwalkError.NotFound):
        store.undo_import("no-such-import")


def test_vocabularies_are_the_shared_tables():
    assert gw.parse_relation("母亲") == gw.Relation.PARENT
    assert gw.parse_visit_mode("微信") == gw.VisitMode.MESSAGING
    assert gw.parse_special_group("低保户") == gw.SpecialGroup.POVERTY
    assert gw.parse_care_tier("close") == gw.CareTier.CLOSE
    near = gw.read_vocabulary(gw.VocabularyKind.RELATION, "儿媳")
    assert (near.code, near.exact, near.label_zh) == ("child", False, gw.Relation.CHILD.label_zh())
    with pytest.raises(gw.GridwalkError.Validation) as bad:
        gw.parse_relation("外星人")
    assert (bad.value.field, bad.value.code) == ("relation", gw.ValidationCode.INVALID_VALUE)

    relations = gw.vocabulary_values(gw.VocabularyKind.RELATION)
    assert [v.code for v in relations][:3] == ["head", "spouse", "child"]
    child = next(v for v in relations if v.code == "child")
    assert any(d.word == "儿媳" and not d.exact for d in child.desk_words)
    # Every listed word reads back as its value, through the typed parser too.
    for value in relations:
        for word in [value.code, value.label_zh] + [d.word for d in value.desk_words]:
            assert gw.parse_relation(word).code() == value.code, word
