// Ledger import through the Swift bindings — dry run, the refused rows' file in the ledger's own
// encoding (GBK stays GBK), the journal of imports and undo — and the shared vocabulary tables
// (the words the CLI and the import accept). Same checks as test_ledger.py and LedgerTest.kt.
import Foundation
import XCTest

@testable import GridwalkCore

/// A desk's GBK ledger (Foundation on Linux has no GBK codec, so the bytes are spelled out):
///     楼栋,单元,门牌,户主姓名,与户主关系,联系电话
///     3栋,1单元,101,张建国,户主,13800138000
///     3栋,1单元,101,李秀英,儿媳,6012345
///     3栋,1单元,102,王五,外星人,
/// No 社区 column, a landline without an area code, a desk relation (儿媳 → child, kept in the
/// notes) and a row with a relation no table has.
let gbkLedger = Data(base64Encoded: "wqW2sCy1pdSqLMPFxcYsu6fW99DVw/ss0+u7p9b3udjPtSzBqs+1tee7sAoztrAsMbWl1KosMTAxLNXFvai5+iy7p9b3LDEzODAwMTM4MDAwCjO2sCwxtaXUqiwxMDEswO7Q49OiLLb5z7EsNjAxMjM0NQoztrAsMbWl1KosMTAyLM31zuUszeLQx8jLLAo=")!
/// 王五 and 张建国 in GBK.
let gbkWangWu = Data([205, 245, 206, 229])
let gbkZhangJianguo = Data([213, 197, 189, 168, 185, 250])

final class LedgerTests: XCTestCase {
    var dir: URL!
    var store: GridwalkStore!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("gridwalk-swift-ledger-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try openDemoStore(in: dir)
    }

    override func tearDownWithError() throws {
        store.closeStore()
        try? FileManager.default.removeItem(at: dir)
    }

    func testDryRunThenImportWithRejectsFileJournalAndUndo() throws {
        let dry = try store.importLedgerWith(
            bytes: gbkLedger, options: ImportOptions(gridCode: grid, dryRun: true, areaCode: "0953"))
        XCTAssertTrue(dry.report.dryRun)
        XCTAssertNil(dry.report.importId)
        XCTAssertEqual(dry.report.encoding, "gbk")
        XCTAssertEqual(dry.report.rowsAccepted, 2)
        XCTAssertEqual(dry.report.rejected.count, 1)
        XCTAssertTrue(try store.listHouseholds(filter: HouseholdFilter()).isEmpty)

        let out = try store.importLedgerWith(
            bytes: gbkLedger, options: ImportOptions(gridCode: grid, areaCode: "0953", fileName: "台账.csv"))
        let report = out.report
        XCTAssertEqual(
            [report.rowsTotal, report.rowsAccepted, report.householdsCreated, report.residentsCreated], [3, 2, 1, 2])
        XCTAssertEqual(report.rejected.count, 1)
        let refused = report.rejected[0]
        XCTAssertEqual(refused.line, 4)
        XCTAssertEqual(refused.errors.map(\.field), ["relation"])
        XCTAssertEqual(refused.errors.map(\.code), [.invalidValue])
        XCTAssertTrue(refused.reason.contains("与户主关系"), refused.reason)
        let file = try XCTUnwrap(out.rejectedFile)
        XCTAssertEqual(file.encoding, "gbk")
        XCTAssertNotNil(file.bytes.range(of: gbkWangWu))
        XCTAssertNil(file.bytes.range(of: gbkZhangJianguo))

        let houses = try store.listHouseholds(filter: HouseholdFilter())
        XCTAssertEqual(houses.count, 1)
        XCTAssertEqual(houses[0].address.community, "幸福社区")
        let phone = try store.residentsOf(householdId: houses[0].id).first { $0.name == "李秀英" }?.phone
        XCTAssertTrue(phone?.hasPrefix("0953") == true && phone?.hasSuffix("6012345") == true, phone ?? "nil")

        let again = try store.importLedgerWith(bytes: gbkLedger, options: ImportOptions(gridCode: grid, areaCode: "0953"))
        XCTAssertEqual(again.report.residentsCreated, 0)
        XCTAssertEqual(again.report.residentsUnchanged, 2)
        XCTAssertNil(again.report.importId)

        let list = try store.ledgerImports()
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list[0].id, report.importId)
        XCTAssertEqual(list[0].fileName, "台账.csv")
        XCTAssertEqual(list[0].created, 3)
        XCTAssertNil(list[0].undoneAtMs)
        let undo = try store.undoImport(importId: list[0].id)
        XCTAssertEqual([undo.householdsRemoved, undo.residentsRemoved, undo.changesWithdrawn], [1, 2, 3])
        XCTAssertTrue(try store.listHouseholds(filter: HouseholdFilter()).isEmpty)
        XCTAssertNotNil(try store.ledgerImports()[0].undoneAtMs)
        guard case .InvalidState? = gridwalkError({ try store.undoImport(importId: list[0].id) })
        else { return XCTFail("a second undo is not an InvalidState") }
        guard case .NotFound? = gridwalkError({ try store.undoImport(importId: "no-such-import") })
        else { return XCTFail("an unknown import is not NotFound") }
    }

    func testVocabulariesAreTheSharedTables() throws {
        XCTAssertEqual(try parseRelation(word: "母亲"), .parent)
        XCTAssertEqual(try parseVisitMode(word: "微信"), .messaging)
        XCTAssertEqual(try parseSpecialGroup(word: "低保户"), .poverty)
        XCTAssertEqual(try parseCareTier(word: "close"), .close)
        let near = try readVocabulary(kind: .relation, word: "儿媳")
        XCTAssertEqual(near.code, "child")
        XCTAssertFalse(near.exact)
        XCTAssertEqual(near.labelZh, Relation.child.labelZh())
        guard case let .Validation(field, code, _, _, _)? = gridwalkError({ try parseRelation(word: "外星人") })
        else { return XCTFail("not a validation error") }
        XCTAssertEqual(field, "relation")
        XCTAssertEqual(code, .invalidValue)

        let relations = vocabularyValues(kind: .relation)
        XCTAssertEqual(relations.prefix(3).map(\.code), ["head", "spouse", "child"])
        let child = try XCTUnwrap(relations.first { $0.code == "child" })
        XCTAssertTrue(child.deskWords.contains(DeskWord(word: "儿媳", exact: false)))
        for value in relations {
            for word in [value.code, value.labelZh] + value.deskWords.map(\.word) {
                XCTAssertEqual(try parseRelation(word: word).code(), value.code, word)
            }
        }
    }
}
