// Sign-in, sync, photo upload and a second device, against the real sync server that
// scripts/test-bindings.sh starts on loopback (GRIDWALK_SERVER_URL).
import Foundation
import XCTest

@testable import GridwalkCore

// Demo credentials of `gridwalk-server serve --demo` (sync-server/src/README.md).
let demoUser = "wangfang"
let demoPassword = "demo-pass"

final class Progress: SyncProgressListener, @unchecked Sendable {
    private let lock = NSLock()
    private var _reports: [SyncProgress] = []
    var reports: [SyncProgress] { lock.lock(); defer { lock.unlock() }; return _reports }

    func onProgress(progress: SyncProgress) {
        lock.lock(); _reports.append(progress); lock.unlock()
    }
}

final class SyncTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("gridwalk-swift-sync-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testLoginSyncUploadAndSecondDevice() throws {
        let serverUrl = try XCTUnwrap(
            ProcessInfo.processInfo.environment["GRIDWALK_SERVER_URL"],
            "GRIDWALK_SERVER_URL is not set: run through scripts/test-bindings.sh")
        let phone = try GridwalkStore.open(path: dir.appendingPathComponent("phone.db").path)

        guard case let .Auth(code, _, _)? = gridwalkError({ try phone.sync() }) else { return XCTFail("not Auth") }
        XCTAssertEqual(code, "not_signed_in")
        guard case let .Auth(wrong, _, _)? = gridwalkError({
            try phone.login(serverUrl: serverUrl, username: demoUser, password: "wrong-password")
        }) else { return XCTFail("not Auth") }
        XCTAssertEqual(wrong, "bad_credentials")

        let session = try phone.login(serverUrl: serverUrl, username: demoUser, password: demoPassword, deviceName: "xctest")
        XCTAssertEqual(session.username, demoUser)
        XCTAssertTrue(session.grids.contains(grid))
        XCTAssertTrue(try phone.myGrids().contains { $0.code == grid })

        let h = try phone.addHousehold(input: HouseholdInput(
            gridCode: grid,
            address: Address(community: "幸福社区", building: "9栋", unit: "1单元", room: "swift"),
            housingType: .rented, careTier: .attention))
        _ = try phone.addResident(input: ResidentInput(
            householdId: h.id, name: "赵大海", relation: .head, residency: .floating, gender: .male,
            birthDate: "1975-06-01"))
        let draft = try phone.draftCase(input: CaseInput(
            typeCode: "0203", urgency: .normal, gridCode: grid, description: "飞线充电", address: "9栋楼下"))
        _ = try phone.addPhoto(owner: .case(id: draft.id), bytes: pngBytes)
        _ = try phone.submitCase(id: draft.id)

        // Cancelled before it starts: nothing is lost, the next sync sends everything.
        let cancel = CancelHandle()
        cancel.cancel()
        guard case .Cancelled? = gridwalkError({ try phone.sync(cancel: cancel) }) else { return XCTFail("not Cancelled") }
        XCTAssertEqual(try phone.getHousehold(id: h.id).syncStatus, .localOnly)

        let progress = Progress()
        let report = try phone.sync(listener: progress, cancel: CancelHandle())
        XCTAssertGreaterThan(report.pushed, 0)
        XCTAssertEqual(report.rejected, 0)
        XCTAssertEqual(progress.reports.last?.phase, .done)
        XCTAssertTrue(progress.reports.contains { $0.phase == .push })
        XCTAssertEqual(try phone.getHousehold(id: h.id).syncStatus, .synced)
        XCTAssertEqual(try phone.attention(), [])
        XCTAssertEqual(try phone.conflicts(), [])

        let uploads = Progress()
        let up = try phone.uploadPhotos(listener: uploads)
        XCTAssertEqual(up.uploaded + up.alreadyOnServer, 1)
        XCTAssertEqual(up.failed, 0)
        XCTAssertEqual(uploads.reports.last?.phase, .upload)
        XCTAssertEqual(try phone.getCase(id: draft.id).photos.first?.uploadState, .done)

        // A second device of the same worker receives the household.
        let tablet = try GridwalkStore.open(path: dir.appendingPathComponent("tablet.db").path)
        _ = try tablet.login(serverUrl: serverUrl, username: demoUser, password: demoPassword)
        XCTAssertGreaterThan(try tablet.sync().pulled, 0)
        XCTAssertEqual(try tablet.getHousehold(id: h.id).address.room, "swift")
        XCTAssertEqual(try tablet.residentsOf(householdId: h.id).map(\.name), ["赵大海"])

        try phone.logout()
        XCTAssertNil(try phone.session())
        tablet.closeStore()
        phone.closeStore()
    }
}
