// GridwalkError → AppError: the kind a screen acts on, the field, the code and both languages;
// from constructed errors and from real refusals of the core and the server.
import Foundation
import XCTest

@testable import GridwalkCore
@testable import GridwalkKit

final class ErrorMappingTests: XCTestCase {
    func testEveryKindOfCoreErrorMapsToWhatTheScreenDoes() {
        let v = AppError(GridwalkError.Validation(
            field: "id_number", code: .duplicate, existingHouseholdId: "h-1", messageZh: "已有在册人员使用该号码", messageEn: "duplicate"))
        XCTAssertEqual(v.kind, .field)
        XCTAssertEqual(v.field, "id_number")
        XCTAssertEqual(v.code, "duplicate")
        XCTAssertEqual(v.existingHouseholdId, "h-1")
        XCTAssertEqual(v.message(.zhHans), "已有在册人员使用该号码")
        XCTAssertEqual(v.message(.english), "duplicate")

        let auth = AppError(GridwalkError.Auth(code: "session_ended", messageZh: "会话已结束", messageEn: "session ended"))
        XCTAssertEqual(auth.kind, .signInRequired)
        XCTAssertTrue(auth.needsSignIn)
        XCTAssertEqual(auth.code, "session_ended")

        let net = AppError(GridwalkError.Network(code: "network", retryable: true, messageZh: "网络", messageEn: "network"))
        XCTAssertEqual(net.kind, .network(retryable: true))
        let refused = AppError(GridwalkError.Network(code: "protocol", retryable: false, messageZh: "协议", messageEn: "protocol"))
        XCTAssertEqual(refused.kind, .network(retryable: false))

        XCTAssertEqual(AppError(GridwalkError.Cancelled(messageZh: "操作已取消", messageEn: "cancelled")).kind, .cancelled)
        XCTAssertEqual(AppError(GridwalkError.SchemaTooNew(found: 9, supported: 8, messageZh: "升级", messageEn: "upgrade")).kind, .upgradeRequired)
        XCTAssertEqual(AppError(GridwalkError.Encryption(messageZh: "密钥", messageEn: "key")).kind, .encryption)
        XCTAssertEqual(AppError(GridwalkError.Busy(waitedS: 600, messageZh: "忙", messageEn: "busy")).kind, .network(retryable: true))
        let state = AppError(GridwalkError.InvalidState(
            entity: "patrol", id: "p", state: "running", action: "start", messageZh: "状态", messageEn: "state"))
        XCTAssertEqual(state.kind, .invalidState)
        XCTAssertEqual(state.code, "patrol.running")
        XCTAssertEqual(AppError(GridwalkError.NotFound(entity: "case", id: "x", messageZh: "未找到", messageEn: "not found")).kind, .notFound)
        XCTAssertEqual(AppError(GridwalkError.Storage(detail: "disk full", messageZh: "存储", messageEn: "storage")).kind, .failure)

        struct Other: Error {}
        let other = AppError(Other())
        XCTAssertEqual(other.kind, .failure)
        XCTAssertEqual(other.message(.zhHans), "操作失败")
        XCTAssertEqual(AppError(v), v, "mapping twice changes nothing")
    }

    func testLanguageFollowsThePhoneChineseFirst() {
        XCTAssertEqual(Language.preferred(["zh-Hans-CN", "en-US"]), .zhHans)
        XCTAssertEqual(Language.preferred(["en-GB", "zh-Hans"]), .english)
        XCTAssertEqual(Language.preferred(["fr-FR"]), .zhHans)
        XCTAssertEqual(Language.preferred([]), .zhHans)
    }

    @MainActor
    func testRealRefusalsLandOnTheirFields() async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
        defer { repo.close() }

        // Nothing listens on port 9 of loopback: retryable, with both messages.
        let offline = SignInViewModel(repository: repo, defaultServerUrl: "http://127.0.0.1:9")
        offline.username = workerName
        offline.password = demoPassword
        let ok = await offline.signIn()
        XCTAssertFalse(ok)
        XCTAssertEqual(offline.error?.kind, .network(retryable: true))
        XCTAssertFalse(offline.error?.messageZh.isEmpty ?? true)
        XCTAssertFalse(offline.error?.messageEn.isEmpty ?? true)

        // A malformed address is the address field's error, blank fields are "required".
        let bad = SignInViewModel(repository: repo, defaultServerUrl: "ftp://nowhere")
        bad.username = workerName
        bad.password = demoPassword
        _ = await bad.signIn()
        XCTAssertEqual(bad.fieldErrors["server_url"]?.code, "invalid_format")
        bad.username = " "
        bad.password = ""
        _ = await bad.signIn()
        XCTAssertEqual(bad.fieldErrors["username"]?.code, "required")
        XCTAssertEqual(bad.fieldErrors["password"]?.message(.zhHans), ValidationCode.required.messageZh())

        // Syncing before signing in sends the worker to sign-in; nothing is lost.
        let sync = SyncViewModel(repository: repo)
        let outcome = await sync.syncNow()
        XCTAssertNotNil(sync.error)
        XCTAssertEqual(outcome, sync.error.map { .failed($0) })
        XCTAssertEqual(sync.error?.kind, .signInRequired)
        XCTAssertEqual(sync.error?.code, "not_signed_in")

        // A closed store: a typed failure, not a crash.
        repo.close()
        let stats = StatsViewModel(repository: repo)
        await stats.load()
        XCTAssertEqual(stats.error?.code, "closed")
    }

    func testTheDatabaseKeyIsMadeOnceAndAKeyStoreFailureNeverMakesANewOne() throws {
        XCTAssertNotNil(cipherVersion(), "the phone library is built with SQLCipher")
        let keys = MemoryKeyStore()
        let first = try DatabaseKey.obtain(from: keys)
        XCTAssertEqual(first.count, 64)
        XCTAssertTrue(first.allSatisfy(\.isHexDigit))
        XCTAssertEqual(try DatabaseKey.obtain(from: keys), first)
        XCTAssertEqual(keys.saves, 1)
        XCTAssertNotEqual(DatabaseKey.generate(), DatabaseKey.generate())
        keys.failLoad = true
        XCTAssertThrowsError(try DatabaseKey.obtain(from: keys))
        XCTAssertEqual(keys.saves, 1, "no new key over an unreadable one")
    }
}
