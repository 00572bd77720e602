// The app is killed mid-work (the store is closed without any view model finishing), then
// started again: view models rebuilt over a fresh open of the same encrypted store, with the key
// from the same key store, show everything the worker had saved — the session, the running
// patrol (GPS re-attached), the draft case with its photo, the pending count.
import Foundation
import XCTest

@testable import GridwalkCore
@testable import GridwalkKit

final class RestoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try scratchDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @MainActor
    func testEverythingSavedComesBackAfterTheAppIsKilled() async throws {
        let url = try serverUrl()
        let keys = MemoryKeyStore()
        let gps = FakeLocation()
        let camera = FakeCamera()
        camera.willReturn(try jpegBytes())

        // Before: signed in, a patrol running with fixes, a draft with a photo, a resident.
        var repo: Repository? = try await Repository.open(directory: dir, keyStore: keys)
        let signIn = SignInViewModel(repository: repo!, defaultServerUrl: url)
        signIn.username = workerName
        signIn.password = demoPassword
        let signedIn = await signIn.signIn()
        XCTAssertTrue(signedIn)
        let patrol = PatrolViewModel(repository: repo!, location: gps, gridCode: grid)
        await patrol.start()
        let startedAt = try XCTUnwrap(patrol.patrol?.startedAtMs)
        gps.walk(walkingFixes(count: 4, startMs: startedAt + 500))
        await eventually("4 fixes") { patrol.fixEvents == 4 }
        let draft = CaseDraftViewModel(repository: repo!, camera: camera, location: gps, gridCode: grid)
        draft.chooseCategory("01")
        await draft.chooseSubType("0101")
        // Typed, never "saved" by the worker: each change is in the store already.
        draft.setDescription("井")
        draft.setDescription("井盖缺")
        draft.setDescription("井盖缺失")
        draft.setAddress("3栋东侧")
        let written = await draft.settled()
        XCTAssertTrue(written)
        await draft.takePhoto()
        let draftId = try XCTUnwrap(draft.caseId)
        let before = SyncViewModel(repository: repo!)
        await before.load()
        XCTAssertGreaterThan(before.pendingCount, 0)

        // Killed: the store closes under the view models; nothing was "finished".
        repo!.close()
        repo = nil
        gps.stopUpdates()

        // A wrong key opens nothing and harms nothing.
        do {
            _ = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
            XCTFail("opened with another key")
        } catch {
            XCTAssertEqual(AppError(error).kind, .encryption)
        }

        // Started again.
        let again = try await Repository.open(directory: dir, keyStore: keys)
        defer { again.close() }
        XCTAssertEqual(keys.saves, 1, "the same key, not a new one")

        let signIn2 = SignInViewModel(repository: again)
        await signIn2.restore()
        XCTAssertEqual(signIn2.session?.username, workerName)
        XCTAssertEqual(signIn2.serverUrl, url)

        let patrol2 = PatrolViewModel(repository: again, location: gps, gridCode: grid)
        await patrol2.resume()
        XCTAssertTrue(patrol2.isRunning)
        XCTAssertEqual(patrol2.patrol?.startedAtMs, startedAt)
        XCTAssertEqual(patrol2.pointCount, 4, "every fix before the kill")
        XCTAssertTrue(gps.isRunning, "GPS attached again")
        gps.walk(walkingFixes(count: 2, startMs: startedAt + 4500, lat: 37.78008))
        await eventually("2 more fixes") { patrol2.fixEvents == 2 }
        await patrol2.stop()
        XCTAssertEqual(patrol2.finished?.pointCount, 6)

        let draft2 = CaseDraftViewModel(repository: again, camera: camera, location: gps, gridCode: grid)
        let found = await draft2.restoreLatest()
        XCTAssertTrue(found)
        XCTAssertEqual(draft2.caseId, draftId)
        XCTAssertEqual(draft2.categoryCode, "01")
        XCTAssertEqual(draft2.typeCode, "0101")
        XCTAssertEqual(draft2.description, "井盖缺失")
        XCTAssertEqual(draft2.address, "3栋东侧")
        XCTAssertEqual(draft2.photos.count, 1)
        XCTAssertEqual(draft2.status, .draft)

        let today = TodayViewModel(repository: again, location: nil)
        await today.load()
        let draftRow = try XCTUnwrap(today.rows.first { $0.item.kind == .draftCase }, "the unsent draft is on the daily list")
        let opened = await today.act(draftRow)
        XCTAssertEqual(opened, .draft(caseId: draftId))

        let after = SyncViewModel(repository: again)
        await after.load()
        XCTAssertGreaterThanOrEqual(after.pendingCount, before.pendingCount)

        // Signing out keeps every unsynced change for the next sign-in.
        await signIn2.signOut()
        XCTAssertNil(signIn2.session)
        await after.load()
        XCTAssertGreaterThanOrEqual(after.pendingCount, before.pendingCount)
        let stillThere = try await again.call { try $0.getCase(id: draftId) }
        XCTAssertEqual(stillThere.description, "井盖缺失")
    }
}
